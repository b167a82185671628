import type { TrackedEvent } from '../../collector/src/event.js';
import type { ClickStore } from './clickIds.js';

/** One buffered event as kept in IndexedDB (short literal keys: they outlive a build, so never mangled). */
export interface Rec {
  /** the event, exactly as it goes on the wire */
  e: TrackedEvent;
  /** the tab that owns it: only a live owner sends it; events of a gone tab are adopted */
  o: string;
  /** 1: tracked before the visitor decided; it takes the consent given later */
  p: number;
  /** when it was first sent without an answer (a beacon, or a request in flight at pagehide) */
  s?: number;
}

/**
 * The visitor's first-party memory: the anonymous id `v` and the click ids `c`. Kept in the same store
 * under the key `visitor`, which no event id can be (they have 8 characters at least).
 */
export interface Visitor {
  v?: string;
  c?: ClickStore;
}

/** How long opening the database may take: then the tag goes on from memory. */
const OPEN_MS = 3000;

/** False once IndexedDB failed: memory only from then on. */
export let idbOk = true;
/** True when this page created the database: a visitor new to the tag (no older version left memory). */
export let created = false;

let database: Promise<IDBDatabase> | undefined;
/** The transaction of the current task (tick). */
let tick: IDBTransaction | 0 | undefined;

/** Resolves with a request's result once it succeeded. */
const done = <T>(request: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = reject;
  });

/**
 * Runs `work` on the `events` store in one readwrite transaction per tick: every work of a task
 * runs in the microtasks after it, in the transaction the first one opened. (One transaction per
 * event took long enough that events tracked just before the page closed were lost.) Resolves with
 * the result of `work`'s last request. The first failure (no IndexedDB, `open` throwing or not
 * answering within 3 s, private mode, quota) switches the tag to memory only, for good; nothing is
 * thrown to the caller.
 */
const transaction = <T>(work: (store: IDBObjectStore) => IDBRequest<T> | undefined) => {
  if (idbOk)
    return (database ||= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tagrelay');
      request.onupgradeneeded = () => {
        created = true;
        request.result.createObjectStore('events');
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = reject;
      // An open that never answers counts as a failure: Safari 14's first open may hang for good
      // (https://bugs.webkit.org/show_bug.cgi?id=226547), as does one behind another tab's blocked upgrade.
      setTimeout(reject, OPEN_MS);
    }))
      .then((db) => {
        if (!tick) {
          const opened = (tick = db.transaction('events', 'readwrite'));
          // Queued after this task's other works: then it is committed at once, not when the browser
          // gets to it (a page closed right after its last track() would lose what had not committed),
          // and the next task opens a new transaction.
          Promise.resolve().then(() => {
            opened.commit?.();
            tick = 0;
          });
        }
        const request = work(tick.objectStore('events'));
        return request && done(request);
      })
      .catch(() => {
        idbOk = false;
      });
};

export const save = (recs: Rec[]) => transaction((store) => recs.map((rec) => store.put(rec, rec.e.id)).pop());
export const remove = (recs: Rec[]) => transaction((store) => recs.map((rec) => store.delete(rec.e.id)).pop());
/** Every buffered event (and the visitor's memory, which has no `e`), or undefined when IndexedDB failed. */
export const load = () => transaction((store) => store.getAll() as IDBRequest<Rec[]>);
export const loadVisitor = () => transaction((store) => store.get('visitor') as IDBRequest<Visitor | undefined>);
export const saveVisitor = (memory: Visitor) => transaction((store) => store.put(memory, 'visitor'));
