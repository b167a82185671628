import { inject } from 'vitest';
import { createDatabase } from '../scripts/postgres.mjs';

/**
 * A fresh, empty PostgreSQL database for one test, on the server of this test run (see
 * postgres.setup.ts: embedded, or TAGRELAY_TEST_DATABASE_URL); `drop()` removes it.
 */
export function testDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  return createDatabase(process.env.TAGRELAY_TEST_DATABASE_URL || inject('postgresUrl'));
}
