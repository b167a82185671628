import { execFile, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Collector, tempDir } from './collector.js';
import { startImpact } from './vendors/impact.js';
import { startNextdoor } from './vendors/nextdoor.js';

const bin = resolve(import.meta.dirname, '../bin/tagrelay.js');

function serveWith(config: unknown, env: Record<string, string> = {}) {
  const dir = tempDir('tagrelay-cli-');
  const path = join(dir, 'c.json');
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return spawnSync(process.execPath, [bin, 'serve', '--config', path], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10000 });
}

describe('tagrelay serve refuses a bad config with one clear error naming the key', () => {
  it.each([
    ['a missing environment variable', { destinations: { chase: { apiKey: '${NO_SUCH_VAR_X}', events: {} } } }, /destinations\.chase\.apiKey: environment variable NO_SUCH_VAR_X is not set/],
    ['a port that is not a number', { port: 'eighty' }, /^tagrelay: config error: port:/m],
    ['a bad store', { store: 'mysql://x' }, /store: must be sqlite:<path> or a postgres:\/\/ URL/],
    ['an origin with a path', { allowedOrigins: ['https://shop.example/path'] }, /allowedOrigins\.0: must be an origin/],
    ['an unknown destination', { destinations: { nope: {} } }, /destinations\.nope: unknown destination/],
    ['a destination without its key', { destinations: { chase: { events: {} } } }, /destinations\.chase\.apiKey/],
    ['a bad base URL', { destinations: { chase: { apiKey: 'k-1234567', baseUrl: 'ftp://x' } } }, /destinations\.chase\.baseUrl/],
    ['an unknown top-level key', { prot: 8080 }, /prot/],
    ['JSON that does not parse', '{"port": ', /is not valid JSON/],
  ])('%s', (_what, config, message) => {
    const r = serveWith(config);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a port from the environment ("${PORT}") is a port', async () => {
    const port = await freePort();
    const c = await Collector.start({ config: { port: '${TAGRELAY_TEST_PORT}' }, env: { TAGRELAY_TEST_PORT: String(port) } });
    try {
      expect(c.url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    } finally {
      await c.stop();
    }
  });
});

describe('tagrelay serve says in one line why it cannot start', () => {
  it('a port in use', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = serveWith({ host: '127.0.0.1', port, store: `sqlite:${join(tempDir('tagrelay-cli-'), 't.db')}` });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`tagrelay: cannot listen on 127.0.0.1:${port}: the address is in use\n`);
    } finally {
      busy.close();
    }
  });

  it('a store path that cannot be created', () => {
    const dir = tempDir('tagrelay-cli-');
    writeFileSync(join(dir, 'a-file'), '');
    const path = join(dir, 'a-file', 'data', 'tagrelay.db');
    const r = serveWith({ port: 0, store: `sqlite:${path}` });
    expect(r.status).toBe(2);
    // One line: the store's path, then why.
    const [line, ...rest] = r.stderr.split('\n');
    expect(line!.startsWith(`tagrelay: cannot open the SQLite store ${path}: `)).toBe(true);
    expect(line!.length).toBeGreaterThan(`tagrelay: cannot open the SQLite store ${path}: `.length);
    expect(rest).toEqual(['']);
  });

  it('prints usage', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.stdout).toContain('tagrelay <command>');
  });
});

describe('the other commands', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 15000 });
  // Beside a running collector or vendor, without blocking this process (its keep-alive connections would
  // time out unnoticed while it is blocked).
  const runAsync = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 15000 }, (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      );
    });

  it('--version, and --help per command', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    expect(run('--version').stdout).toBe(`tagrelay ${pkg.version}\n`);
    for (const command of ['serve', 'status', 'replay', 'forget', 'check', 'backup']) {
      const help = run(command, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: tagrelay ${command} \\[options\\]`));
    }
    expect(run('replay', '--help').stdout).toContain('--rejected');
    expect(run('--help').stdout).toMatch(/backup\s+copy the SQLite store/);
  });

  it('backup copies the store while the collector serves, into a file SQLite opens with everything in it', async () => {
    const c = await Collector.start();
    try {
      const events = Array.from({ length: 20 }, (_, i) => ({ id: `evt-backup-${1000 + i}`, name: 'page_view', time: Date.now() }));
      expect((await fetch(`${c.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events }) })).status).toBe(200);
      const to = join(tempDir('tagrelay-backup-'), 'copy.db');
      const r = await runAsync('backup', '--config', c.configPath, '--to', to);
      expect(r.stderr).toBe('');
      expect(r.stdout.startsWith(`backed up the store to ${to} (`)).toBe(true);
      expect(r.stdout.slice(`backed up the store to ${to} `.length)).toMatch(/^\(\d+ KB\)\n$/);
      const db = new Database(to, { readonly: true });
      try {
        expect(db.prepare('SELECT COUNT(*) FROM events').pluck().get()).toBe(20);
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        db.close();
      }
      expect((await fetch(`${c.url}/healthz`)).status).toBe(200); // still serving
      expect((await runAsync('backup', '--config', c.configPath)).stderr).toBe('tagrelay: backup needs --to FILE\n');
    } finally {
      await c.stop();
    }
  });

  it('check says the config is fine and, per destination, whether its credentials work or that the vendor offers no check', () => {
    const dir = tempDir('tagrelay-cli-');
    const path = join(dir, 'c.json');
    writeFileSync(path, JSON.stringify({ store: `sqlite:${join(dir, 't.db')}`, destinations: { chase: { apiKey: 'chase-check-key', events: {} } } }));
    const r = run('check', '--config', path);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^config ok: 1 destination\(s\)/);
    expect(r.stdout).toContain('chase: the vendor offers no harmless call to check credentials; the first conversion will');
    expect(r.stdout).not.toContain('chase-check-key');
    // without a config file it says what it checked, so a deploy script that forgot --config is not misled
    const bare = run('check');
    expect(bare.status).toBe(0);
    expect(bare.stdout).toMatch(/^no config file \(--config FILE or TAGRELAY_CONFIG\): checking the embedded default\nconfig ok: 0 destination\(s\)/);
  });

  it('check proves Nextdoor, impact and Convert credentials with their harmless calls, and exits 1 when one is refused', async () => {
    const nextdoor = await startNextdoor('nd-check-token', 'ds-check');
    const impact = await startImpact('IRcheck1', 'impact-check-token', '1000');
    try {
      const dir = tempDir('tagrelay-cli-');
      const path = join(dir, 'c.json');
      const destinations = (ndToken: string) => ({
        nextdoor: { token: ndToken, dataSourceId: 'ds-check', baseUrl: nextdoor.url },
        impact: { accountSid: 'IRcheck1', authToken: 'impact-check-token', campaignId: '1000', baseUrl: impact.url },
      });
      writeFileSync(path, JSON.stringify({ store: `sqlite:${join(dir, 't.db')}`, destinations: destinations('nd-check-token') }));
      const good = await runAsync('check', '--config', path);
      expect(good.stdout).toContain(`nextdoor: ok (GET ${nextdoor.url}/v2/api/me answered 200)`);
      expect(good.stdout).toContain(`impact: ok (GET ${impact.url}/Advertisers/IRcheck1/Campaigns/1000 answered 200)`);
      expect(good.status).toBe(0);
      writeFileSync(path, JSON.stringify({ store: `sqlite:${join(dir, 't.db')}`, destinations: destinations('nd-wrong-token') }));
      const bad = await runAsync('check', '--config', path);
      expect(bad.stdout).toMatch(/nextdoor: credentials refused \(GET .*\/v2\/api\/me answered 401/);
      expect(bad.stdout).not.toContain('nd-wrong-token');
      expect(bad.status).toBe(1);
    } finally {
      await nextdoor.close();
      await impact.close();
    }
  });
});

function freePort(): Promise<number> {
  const s = createServer();
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    }),
  );
}
