import { inject } from 'vitest';
import { createDatabase, sql } from '../scripts/postgres.mjs';

/**
 * A fresh, empty PostgreSQL database for one test, on the server of this test run (see
 * postgres.setup.ts: embedded, or TAGRELAY_TEST_DATABASE_URL); `drop()` removes it.
 */
export function testDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  return createDatabase(process.env.TAGRELAY_TEST_DATABASE_URL || inject('postgresUrl'));
}

/**
 * Makes the database at `url` read-only or writable again, as a failover's old primary or a standby is, and
 * ends its other sessions so that the next ones see it.
 */
export async function setReadOnly(url: string, on: boolean): Promise<void> {
  // A session of its own that may write, whatever the database's default is by then.
  const admin = new URL(url);
  admin.searchParams.set('options', '-c default_transaction_read_only=off');
  const change = on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only';
  await sql(admin.toString(), `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I ${change}', current_database()); END $$`);
  await sql(url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
}
