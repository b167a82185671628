import { resolve } from 'node:path';
import { SqliteStore } from './sqlite.js';
import { StoreError, type Store } from './types.js';

const SERVER_QUERY_TIMEOUT_MS = 10_000;

/**
 * Opens the store named by the config's `store` URL. `server` is for tagrelay serve; operator
 * commands open it beside a running collector. `processes`: how many `serve` workers share the store
 * on this machine; `connections`: the PostgreSQL connections this process may open (10).
 */
export async function openStore(
  url: string,
  opts: { server: boolean; processes?: number; connections?: number } = { server: true },
): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(resolve(url.slice('sqlite:'.length)), { thread: opts.server });
  if (/^postgres(ql)?:\/\//.test(url)) {
    // Loaded only when used: an SQLite collector never loads pg.
    const { PostgresStore } = await import('./postgres.js');
    // About three ingest groups in flight for the machine, however many workers share them: each worker
    // groups only its own requests, and three groups each made two workers' groups half as large, for
    // ~20 % more CPU per request (BENCHMARKS.md).
    // A collector gives a statement 10 s (one in flight when the database is cut off fails then, and
    // /collect answers 503); an operator command (a forget over millions of events) waits as long as it takes.
    return PostgresStore.open(url, {
      poolSize: opts.server ? (opts.connections ?? 10) : 2,
      groupsInFlight: Math.max(1, Math.floor(3 / (opts.processes ?? 1))),
      queryTimeoutMs: opts.server ? SERVER_QUERY_TIMEOUT_MS : undefined,
    });
  }
  throw new StoreError(`store ${url.split(':')[0]}: not supported (use sqlite:<path> or postgres://user:password@host:5432/database)`);
}
