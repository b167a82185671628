import { resolve } from 'node:path';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Opens the store named by the config's `store` URL. */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(resolve(url.slice('sqlite:'.length)));
  throw new Error(`store ${url.split(':')[0]}: not supported yet (use sqlite:<path>)`);
}
