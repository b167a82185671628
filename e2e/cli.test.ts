import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

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
    ['a bad base URL', { destinations: { chase: { apiKey: 'k', baseUrl: 'ftp://x' } } }, /destinations\.chase\.baseUrl/],
    ['an unknown top-level key', { prot: 8080 }, /prot/],
    ['JSON that does not parse', '{"port": ', /is not valid JSON/],
  ])('%s', (_what, config, message) => {
    const r = serveWith(config);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('substitutes ${NAME} from the environment', () => {
    const r = serveWith({ port: '${TAGRELAY_TEST_PORT}' }, { TAGRELAY_TEST_PORT: '1' });
    // The substituted value is a string, so the port is still checked as a number.
    expect(r.stderr).toMatch(/port: Invalid input: expected number/);
  });

  it('prints usage', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.stdout).toContain('tagrelay <command>');
  });
});
