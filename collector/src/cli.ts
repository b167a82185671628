import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, localUrl } from './config.js';
import { createCollector } from './app.js';
import { backup, check, forget, parseSince, printStatus, replay } from './operator.js';
import { version } from './packageInfo.js';
import { createLogger } from './log.js';
import { redactUrl } from './redact.js';
import { StoreError, type ReplayableState } from './store/types.js';
import { isWorker, reportListening, runPrimary, storeConnectionsPerProcess, workerCount, WorkersError } from './workers.js';

class UsageError extends Error {}

/** Each command: one line for the overview, and its own help. */
const COMMANDS: Record<string, { summary: string; help: string }> = {
  serve: {
    summary: 'run the collector (HTTP endpoints and delivery)',
    help: `  --workers N          processes to run (default: one per core on PostgreSQL,
                       where they share the store; 1 on SQLite, the only choice)`,
  },
  status: {
    summary: 'print queue depth, oldest age and state per destination',
    help: `  --url URL            the running collector to ask for live state
                       (default: http://<host>:<port> of the config)`,
  },
  replay: {
    summary: "put a destination's dead letters (given up after retrying) back in its queue",
    help: `  --destination NAME   which destination (required)
  --since TIME         only those from TIME on: an ISO date or an age (24h, 7d)
  --rejected           also the deliveries the vendor refused (4xx) or that could not be mapped`,
  },
  forget: {
    summary: "erase a person's events, deliveries and recorded requests (GDPR Art. 17, CCPA)",
    help: `  --anonymous-id ID    the tag's visitor id
  --user-id ID         the site's user_id
  --email ADDRESS      events that carry it, and every event of the visitors it was seen with`,
  },
  check: {
    summary: 'check the config, and each destination\'s credentials with the harmless call its vendor offers',
    help: `  prints one line per destination; exits 1 if any check fails`,
  },
  backup: {
    summary: 'copy the SQLite store to a file, consistently, while the collector serves',
    help: `  --to FILE            where the copy goes (required; PostgreSQL: use pg_dump)`,
  },
};

const OPTIONS = `Options:
  --config FILE   the JSON config (default: $TAGRELAY_CONFIG; none: embedded default, no destinations)
  -h, --help      help (tagrelay <command> --help: that command's)
  --version       the version`;

const USAGE = `Usage: tagrelay <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)}  ${c.summary}`)
  .join('\n')}

${OPTIONS}
`;

const commandUsage = (name: string) => `Usage: tagrelay ${name} [options]

${COMMANDS[name]!.summary[0]!.toUpperCase()}${COMMANDS[name]!.summary.slice(1)}.

${COMMANDS[name]!.help}

${OPTIONS}
`;

/** How long SIGTERM may take, in all: requests in flight finish or are left queued within it. */
const STOP_DEADLINE_MS = 10_000;

/** A start-up failure outside the config (the port, the store): printed as one line, exit 2. */
class StartError extends Error {}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
      reject(new StartError(`cannot listen on ${host}:${port}: ${why}`));
    });
    server.listen(port, host, resolve);
  });
}

async function serve(configPath: string | undefined, workers: string | undefined): Promise<void> {
  const config = loadConfig(configPath);
  const n = workerCount(workers, config.store);
  storeConnectionsPerProcess(config, n); // refused here, said once, not by each worker
  if (n > 1 && !isWorker) return runPrimary(n, config, createLogger([], undefined, { level: config.logLevel, pretty: process.stdout.isTTY }), STOP_DEADLINE_MS);
  const collector = await createCollector(config, { processes: n });
  const { log } = collector;
  const server = createServer(
    // Slow or endless requests cannot hold connections: Node's defaults (300 s) are for other jobs.
    {
      requestTimeout: config.limits.requestTimeoutMs,
      headersTimeout: config.limits.headersTimeoutMs,
      keepAliveTimeout: 5000,
      // How often those timeouts are checked (Node's default, 30 s, would let a slow client stay that long).
      connectionsCheckingInterval: Math.min(1000, config.limits.headersTimeoutMs),
    },
    collector.handler,
  );
  server.maxConnections = config.limits.maxConnections;
  await listen(server, config.port, config.host);
  collector.engine.start();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = localUrl(config.host, port);
  if (isWorker) reportListening(url);
  else
    log.info(`tagrelay listening on ${url}`, {
      store: redactUrl(config.store),
      destinations: Object.keys(config.destinations),
    });
  if (config.demo) log.info(`demo shop: open ${url}/ in a browser`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + STOP_DEADLINE_MS;
    log.info('stopping', { signal });
    collector.drain();
    // Whatever happens below, the process is gone by the deadline; what was acknowledged is on disk.
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    // No new connections; requests in flight finish (until a second before the deadline), idle connections close.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const lanes = collector.engine.stop(deadline - Date.now() - 1000);
    await Promise.race([drained, new Promise((r) => setTimeout(r, deadline - Date.now() - 1000))]);
    server.closeAllConnections();
    await lanes;
    await collector.close();
    log.info('stopped', { ms: STOP_DEADLINE_MS - (deadline - Date.now()) });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A worker whose primary is gone stops too.
  if (isWorker) process.on('disconnect', () => void shutdown('primary gone'));
}

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        destination: { type: 'string' },
        since: { type: 'string' },
        url: { type: 'string' },
        rejected: { type: 'boolean' },
        'anonymous-id': { type: 'string' },
        'user-id': { type: 'string' },
        email: { type: 'string' },
        workers: { type: 'string' },
        to: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    process.stderr.write(`tagrelay: ${(e as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) {
    process.stdout.write(`tagrelay ${version()}\n`);
    return;
  }
  if (values.help || !command) {
    process.stdout.write(command && COMMANDS[command] ? commandUsage(command) : USAGE);
    return;
  }
  const configPath = values.config ?? process.env.TAGRELAY_CONFIG;
  try {
    if (command === 'serve') await serve(configPath, values.workers);
    else if (command === 'status') await printStatus(loadConfig(configPath), values.url);
    else if (command === 'forget') {
      const person = { anonymousId: values['anonymous-id'], userId: values['user-id'], email: values.email };
      if (!person.anonymousId && !person.userId && !person.email) {
        throw new UsageError('forget needs --anonymous-id ID, --user-id ID or --email ADDRESS');
      }
      const gone = await forget(loadConfig(configPath), person);
      console.log(
        `forgot ${gone.events} event${gone.events === 1 ? '' : 's'}, ${gone.deliveries} deliver${gone.deliveries === 1 ? 'y' : 'ies'} with their recorded requests, and ${gone.conflicts} id conflict${gone.conflicts === 1 ? '' : 's'}`,
      );
    } else if (command === 'check') {
      if (!configPath) console.log('no config file (--config FILE or TAGRELAY_CONFIG): checking the embedded default');
      const ok = await check(loadConfig(configPath), (line) => console.log(line));
      if (!ok) process.exitCode = 1;
    } else if (command === 'backup') {
      if (!values.to) throw new UsageError('backup needs --to FILE');
      const { bytes, path } = await backup(loadConfig(configPath), values.to);
      console.log(`backed up the store to ${path} (${Math.round(bytes / 1024)} KB)`);
    } else if (command === 'replay') {
      if (!values.destination) throw new UsageError('replay needs --destination NAME');
      const config = loadConfig(configPath);
      const states: ReplayableState[] = values.rejected ? ['dead', 'rejected'] : ['dead'];
      const n = await replay(config, values.destination, parseSince(values.since), states);
      const what = values.rejected ? `dead or rejected deliver${n === 1 ? 'y' : 'ies'}` : `dead letter${n === 1 ? '' : 's'}`;
      console.log(`re-queued ${n} ${what} for ${values.destination}`);
    } else {
      process.stderr.write(`tagrelay: unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tagrelay: config error: ${e.message}\n`);
      process.exit(2);
    }
    if (e instanceof StoreError || e instanceof StartError || e instanceof WorkersError) {
      process.stderr.write(`tagrelay: ${e.message}\n`);
      process.exit(2);
    }
    if (e instanceof UsageError || (e instanceof Error && /^--/.test(e.message))) {
      process.stderr.write(`tagrelay: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
