import { createStore, promisifyRequest } from 'idb-keyval';

/** One buffered event as kept in IndexedDB (short literal keys: they outlive a build, so never mangled). */
export interface Rec {
  /** the event, exactly as it goes on the wire */
  e: import('../../collector/src/event.js').TrackedEvent;
  /** the tab that owns it: only a live owner sends it; events of a gone tab are adopted */
  o: string;
  /** 1: tracked before the visitor decided; it takes the consent given later */
  p: number;
}

/** False once IndexedDB failed: memory only from then on. */
export let idbOk = true;
const db = createStore('tagrelay', 'events');

/**
 * One transaction on the events store. The first failure (no IndexedDB, `open` throwing, private
 * mode, quota) switches the tag to memory only, for good; nothing is thrown to the caller.
 */
const idb = <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => unknown): Promise<T | void> | void => {
  const fail = () => {
    idbOk = false;
  };
  if (idbOk)
    try {
      return db(mode, (s) => promisifyRequest((f(s) as IDBRequest) || s.transaction)).catch(fail) as Promise<T>;
    } catch {
      fail();
    }
};

export const save = (recs: Rec[]) => idb('readwrite', (s) => recs.forEach((r) => s.put(r, r.e.id)));
export const remove = (ids: string[]) => idb('readwrite', (s) => ids.forEach((id) => s.delete(id)));
export const load = () => idb<Rec[]>('readonly', (s) => s.getAll());
