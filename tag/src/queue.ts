import { backoff } from './backoff.js';
import { batches } from './batches.js';
import { decided, DROP, SEND, stamp, verdict } from './consent.js';
import { ignore, log } from './log.js';
import { required } from './options.js';
import { idbOk, load, remove, save, type Rec } from './store.js';
import { tabId } from './tab.js';
import { transmit } from './transmit.js';

/** Bytes of events a request may carry: browsers share 64 KB among in-flight keepalive requests. */
export const MAX_BYTES = 61420;

/** The newest events this tab keeps; older ones are dropped. */
const MAX_EVENTS = 1000;

/** The events this tab owns and has not handed to the browser yet, oldest first. */
let owned: Rec[] = [];
/** Failed sends in a row, for the backoff. */
let failures = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/** UTF-8 bytes of an event's JSON. */
export const size = (rec: Rec) => new Blob([JSON.stringify(rec.e)]).size;

/**
 * A new event: kept in memory for this tab and written to IndexedDB, sent shortly. In a burst, sent
 * at once every 64 events, so that most of it is on its way before the page can close (browsers
 * refuse keepalive requests beyond 64 KB in flight, and pagehide gets one go).
 */
export const enqueue = (rec: Rec): void => {
  owned.push(rec);
  save([rec]);
  if (owned.length >= 64) send();
  else schedule();
};

/** A flush in `ms` (by default shortly after `track`, one per burst), unless one is already due. */
export const schedule = (ms = 200): void => {
  if (!timer) timer = setTimeout(flush, ms);
};

/** A flush after the next backoff delay (offline, network error). */
const retry = () => schedule(backoff(failures++, Math.random()));

/**
 * Takes over buffered events whose tab is gone (closed, crashed, reloaded while offline): an event
 * belongs to the tab named in `o`, and a tab is alive while it holds or waits for its Web Lock.
 * Runs under the global lock, so two tabs never adopt the same event. Without Web Locks (Safari
 * before 15.4, http:// pages) every tab takes every event it finds: a duplicate send is possible
 * there, and the collector stores an event id once.
 */
const adopt = async (): Promise<void> => {
  const locks = navigator.locks;
  const snapshot = locks && (await locks.query());
  const live = snapshot ? [...snapshot.held!, ...snapshot.pending!].map((lock) => lock.name) : [tabId];
  const orphans = ((await load()) || []).filter((rec) => !live.includes(rec.o));
  for (const rec of orphans) rec.o = tabId;
  await save(orphans);
  owned = orphans.concat(owned);
};

/** Adopts orphaned events (under the cross-tab lock `tagrelay`), then sends. Never throws. */
export const flush = (): void => {
  timer = undefined; // a timer still due just flushes again
  const run = () => adopt().then(send, send);
  if (navigator.locks) navigator.locks.request('tagrelay', run).catch(send);
  else run();
};

/**
 * Synchronous, so it also works in `pagehide`: bounds the buffer (the newest 1,000 events stay),
 * decides consent for each event this tab owns, and hands the sendable ones to the browser in
 * batches of at most 60 KB. Held and offline events stay.
 */
export const send = (): void => {
  try {
    const kept: Rec[] = [];
    const due: Rec[] = [];
    const dropped: string[] = [];
    const offline = !navigator.onLine;
    const drop = (reason: string, rec: Rec) => {
      dropped.push(rec.e.id);
      ignore(reason, rec.e);
    };
    while (owned.length > MAX_EVENTS) drop('full', owned.shift()!);
    for (const rec of owned) {
      if (rec.p && decided) {
        // tracked before the visitor decided: it takes the decision
        rec.e.consent = stamp();
        rec.p = 0;
      }
      const action = verdict(rec.e.consent!, rec.p, required);
      if (action == DROP) drop('consent', rec);
      else if (action == SEND && !offline) due.push(rec);
      else kept.push(rec);
    }
    owned = kept;
    remove(dropped);
    if (kept.length) {
      log(offline ? 'offline' : 'held', kept);
      if (offline) retry();
    }
    for (const batch of batches(due, size, MAX_BYTES)) {
      const sent = () => {
        log('sent', batch);
        failures = 0;
        remove(batch.map((rec) => rec.e.id));
      };
      const failed = () => {
        owned = batch.concat(owned);
        retry();
      };
      transmit(batch, sent, failed);
    }
  } catch {}
};

/** pagehide: send what can go, then forget the rest (it stays in IndexedDB for the next page). */
export const leave = (): void => {
  send();
  if (idbOk) owned = [];
};
