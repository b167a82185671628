import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Collector } from './collector.js';

const bin = resolve(import.meta.dirname, '../bin/tagrelay.js');

function serveWith(config: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-cli-'));
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
      const r = serveWith({ host: '127.0.0.1', port, store: `sqlite:${join(mkdtempSync(join(tmpdir(), 'tagrelay-cli-')), 't.db')}` });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`tagrelay: cannot listen on 127.0.0.1:${port}: the address is in use\n`);
    } finally {
      busy.close();
    }
  });

  it('a store path that cannot be created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tagrelay-cli-'));
    writeFileSync(join(dir, 'a-file'), '');
    const path = join(dir, 'a-file', 'data', 'tagrelay.db');
    const r = serveWith({ port: 0, store: `sqlite:${path}` });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^tagrelay: cannot open the SQLite store ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: [^\n]+\n$`));
  });

  it('prints usage', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.stdout).toContain('tagrelay <command>');
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
