import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { createCollector } from './app.js';

const USAGE = `Usage: tagrelay <command> [options]

Commands:
  serve     run the collector (HTTP endpoints and delivery)
  status    print queue depth, oldest age and state per destination

Options:
  --config FILE   the JSON config (default: $TAGRELAY_CONFIG; none: embedded default, no destinations)
  -h, --help      this help
`;

async function serve(configPath: string | undefined): Promise<void> {
  const config = loadConfig(configPath);
  const collector = await createCollector(config);
  const { log } = collector;
  collector.engine.start();
  const server: Server = await new Promise((resolve) => {
    const s = collector.app.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host}:${port}`;
  log.info(`tagrelay listening on ${url}`, {
    store: config.store.replace(/\/\/[^@]*@/, '//[redacted]@'),
    destinations: Object.keys(config.destinations),
  });
  if (config.demo) log.info(`demo shop: open ${url}/ in a browser`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    server.close();
    server.closeIdleConnections();
    await collector.close(10_000);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function status(configPath: string | undefined): Promise<void> {
  const config = loadConfig(configPath);
  const { openStore } = await import('./store/open.js');
  const store = await openStore(config.store);
  const stats = await store.stats();
  const now = Date.now();
  const rows = [['destination', 'pending', 'oldest', 'delivered', 'skipped', 'rejected', 'dead']];
  for (const s of stats) {
    const age = s.oldestPendingAt ? `${Math.round((now - s.oldestPendingAt) / 1000)}s` : '-';
    rows.push([s.destination, String(s.pending), age, String(s.delivered), String(s.skipped), String(s.rejected), String(s.dead)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  await store.close();
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  const configPath = values.config ?? process.env.TAGRELAY_CONFIG;
  try {
    if (command === 'serve') await serve(configPath);
    else if (command === 'status') await status(configPath);
    else {
      process.stderr.write(`tagrelay: unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tagrelay: config error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
