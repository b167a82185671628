import { resolve } from 'node:path';
import { SqliteStore } from './sqlite.js';
import { StoreError, type Store } from './types.js';

/**
 * Opens the store named by the config's `store` URL. `server` is for tagrelay serve; operator
 * commands open it beside a running collector.
 */
export async function openStore(url: string, opts: { server: boolean } = { server: true }): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(resolve(url.slice('sqlite:'.length)), { thread: opts.server });
  if (/^postgres(ql)?:\/\//.test(url)) {
    // Loaded only when used: an SQLite collector never loads pg.
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open(url, { poolSize: opts.server ? 10 : 2 });
  }
  throw new StoreError(`store ${url.split(':')[0]}: not supported (use sqlite:<path> or postgres://user:password@host:5432/database)`);
}
