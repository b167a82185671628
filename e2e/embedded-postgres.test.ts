// The real PostgreSQL the tests and the benchmark start (scripts/postgres.mjs), where it can fail for reasons of
// the machine rather than of tagrelay.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnEmbeddedPostgres, sql, type EmbeddedPostgresServer } from '../scripts/postgres.mjs';

let server: EmbeddedPostgresServer | undefined;
const taken = createServer();

afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (taken.listening) await new Promise((r) => taken.close(r));
});

describe('the embedded PostgreSQL', () => {
  it('starts on another port when another process takes the one it picked before the server binds it', async () => {
    // The port was free when picked; a collector or a vendor stand-in started in between holds it (a CI run
    // saw the runner exit with status 0 and no word, and the test that wanted the server fail).
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    server = await spawnEmbeddedPostgres({ firstPort: port });
    const url = new URL(server.url);
    expect(Number(url.port)).not.toBe(port);
    expect(await sql(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
