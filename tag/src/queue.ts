import { backoff } from './backoff.js';
import { batches } from './batches.js';
import { verdict } from './consent.js';
import { ignore, log } from './log.js';
import { required } from './options.js';
import { decided, stamp } from './setConsent.js';
import { idbOk, load, remove, save, type Rec } from './store.js';
import { me } from './tab.js';
import { transmit } from './transmit.js';

/** Bytes of events a request may carry: browsers share 64 KB among in-flight keepalive requests. */
export const MAX_BYTES = 61420;

/** The events this tab owns and has not handed to the browser yet, oldest first. */
let mine: Rec[] = [];
let failures = 0;
let timer: ReturnType<typeof setTimeout> | 0 = 0;

/** UTF-8 bytes of an event's JSON. */
export const size = (e: unknown) => new Blob([JSON.stringify(e)]).size;

/**
 * A new event: kept in memory for this tab and written to IndexedDB, sent shortly. In a burst, sent
 * at once every 64 events, so that most of it is on its way before the page can close (browsers
 * refuse keepalive requests beyond 64 KB in flight, and pagehide gets one go).
 */
export const enqueue = (r: Rec): void => {
  mine.push(r);
  save([r]);
  mine[63] ? send() : schedule();
};

/** A flush shortly after `track` (one per burst), unless one is already due. */
export const schedule = (ms = 200): void => {
  timer ||= setTimeout(flush, ms);
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
  const q = locks && (await locks.query());
  const live = q ? [...q.held!, ...q.pending!].map((l) => l.name) : [me];
  const take = ((await load()) || []).filter((r) => !live.includes(r.o));
  for (const r of take) r.o = me;
  await save(take);
  mine = take.concat(mine);
};

/** Adopts orphaned events (under the cross-tab lock `tagrelay`), then sends. Never throws. */
export const flush = (_?: unknown): void => {
  timer = 0; // a timer still due just flushes again
  const run = () => adopt().then(send, send);
  navigator.locks?.request('tagrelay', run).catch(send) ?? run();
};

/**
 * Synchronous, so it also works in `pagehide`: bounds the buffer (the newest 1,000 events stay),
 * decides consent for each event this tab owns, and hands the sendable ones to the browser in
 * batches of at most 60 KB. Held and offline events stay.
 */
export const send = (): void => {
  try {
    const keep: Rec[] = [];
    const out: Rec[] = [];
    const drop: string[] = [];
    const offline = !navigator.onLine;
    const no = (why: string, r: Rec) => drop.push(r.e.id) && ignore(why, r.e);
    while (mine[1e3]) no('full', mine.shift()!);
    for (const r of mine) {
      if (r.p && decided) (r.e.consent = stamp()), (r.p = 0);
      const v = verdict(r.e.consent!, r.p, required);
      v > 1 ? no('consent', r) : (v && !offline ? out : keep).push(r);
    }
    mine = keep;
    remove(drop);
    if (keep[0]) log(offline ? 'offline' : 'held', keep), offline && retry();
    for (const b of batches(out, (r) => size(r.e), MAX_BYTES))
      transmit(
        b,
        () => {
          log('sent', b);
          failures = 0;
          remove(b.map((r) => r.e.id));
        },
        () => {
          mine = b.concat(mine);
          retry();
        },
      );
  } catch {}
};

/** pagehide: send what can go, then forget the rest (it stays in IndexedDB for the next page). */
export const leave = (): void => {
  send();
  if (idbOk) mine = [];
};
