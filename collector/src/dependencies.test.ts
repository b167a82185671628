// Dependency floors above known advisories: the versions installed, not just the ranges asked for.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const installed = (name: string) => (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
const atLeast = (version: string, floor: string) => {
  const [a, b] = [version, floor].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (a![i] !== b![i]) return a![i]! > b![i]!;
  return true;
};

describe('dependencies', () => {
  it.each([
    ['undici', '7.29.0'], // the vendor client: advisories fixed in 7.29
  ])('%s is at least %s', (name, floor) => {
    expect(atLeast(installed(name), floor), `${name} ${installed(name)}`).toBe(true);
  });
});
