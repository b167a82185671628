import { backoff } from './backoff.js';
import { batches } from './batches.js';
import { decided, DROP, HOLD, stamp, verdict } from './consent.js';
import { ignore, log } from './log.js';
import { debug, required } from './options.js';
import { idbOk, load, remove, save, type Rec } from './store.js';
import { tabId } from './tab.js';
import { beacon, request } from './transmit.js';

/** Bytes of events a request may carry: browsers share 64 KB among in-flight keepalive requests. */
export const MAX_BYTES = 61420;

/** The newest events this tab keeps; older ones are dropped. */
const MAX_EVENTS = 1000;

/**
 * How long an event sent by a beacon (which hears no answer) is kept for a later page to send once
 * more: 7 days, the collector's default `retention.deliveredDays`, so that the collector still
 * knows the id of a repeat.
 */
const UNCONFIRMED_MS = 7 * 864e5;

/** Whole-batch refusals: the batch itself is invalid, so sending it again changes nothing. */
const REFUSED = [400, 413, 415, 422];

/** This tab's events that the collector has not answered for and no beacon took, oldest first. */
let owned: Rec[] = [];
/** The batch of the request in flight: one at a time (browsers allow 64 KB of keepalive requests). */
let inFlight: Rec[] = [];
/** Failed requests in a row, for the backoff. */
let failures = 0;
/** The next flush: shortly after `track`, or the next try after a failure. */
let timer: ReturnType<typeof setTimeout> | undefined;

const encoder = new TextEncoder();

/** UTF-8 bytes of an event's JSON. */
export const size = (rec: Rec) => encoder.encode(JSON.stringify(rec.e)).length;

/** A new event: kept in memory for this tab and written to IndexedDB, sent shortly. */
export const enqueue = (rec: Rec): void => {
  owned.push(rec);
  save([rec]);
  schedule();
};

/**
 * A flush in 200 ms (one per burst of `track` calls), unless one is already due: while backing off
 * after a failure, new events wait for the next try.
 */
export const schedule = (): void => {
  if (!timer) timer = setTimeout(flush, 200);
};

/** The next try after a failure: the backoff, and never sooner than the collector's Retry-After. */
const retry = (retryAfter?: number) => {
  clearTimeout(timer);
  timer = setTimeout(flush, backoff(failures++, Math.random(), retryAfter));
};

/**
 * Takes over buffered events whose tab is gone (closed, crashed, reloaded while offline): an event
 * belongs to the tab named in `o`, and a tab is alive while it holds or waits for its Web Lock.
 * Runs under the global lock, so two tabs never adopt the same event. Without Web Locks (Safari
 * before 15.4, http:// pages) every tab takes every event it finds: a duplicate send is possible
 * there, and the collector stores an event id once. An event a beacon took more than
 * UNCONFIRMED_MS ago is dropped rather than sent again.
 */
const adopt = async (): Promise<void> => {
  const locks = navigator.locks;
  const snapshot = locks && (await locks.query());
  const live = snapshot ? [...snapshot.held!, ...snapshot.pending!].map((lock) => lock.name) : [tabId];
  const adopted: Rec[] = [];
  const expired: Rec[] = [];
  for (const rec of (await load()) || [])
    if (rec.e && !live.includes(rec.o)) {
      if (rec.s && Date.now() - rec.s > UNCONFIRMED_MS) {
        expired.push(rec);
        ignore('expired', rec.e);
      } else {
        rec.o = tabId;
        adopted.push(rec);
      }
    }
  remove(expired);
  await save(adopted);
  owned = adopted.concat(owned);
};

/**
 * Adopts orphaned events (under the cross-tab lock `tagrelay`), then sends. Also the `online`
 * handler: back online, it tries at once. Never throws.
 */
export const flush = (): void => {
  // A timer still due would flush again behind this flush's back: after a failure, that second try would
  // come before the backoff and the collector's Retry-After. (clearTimeout returns undefined: no timer.)
  timer = clearTimeout(timer) as undefined;
  const run = () => adopt().then(() => send(), () => send());
  // Without Web Locks (the chain gives undefined), at once.
  navigator.locks?.request('tagrelay', run).catch(() => send()) ?? run();
};

/** Takes a batch out of this tab's memory: the collector answered for it, or a beacon took it. */
const forget = (batch: Rec[]) => {
  owned = owned.filter((rec) => !batch.includes(rec));
};

/** Marks events as sent without an answer (`s`, the first time), in IndexedDB too. */
const unconfirmed = (recs: Rec[]) => {
  for (const rec of recs) rec.s ||= Date.now();
  save(recs);
};

/**
 * While the page lives, one request at a time by `fetch`. An event leaves only when the collector
 * answered 2xx for it: stored, a duplicate, or listed as invalid in `rejected`. A whole-batch
 * refusal (400, 413, 415, 422) is final too. Anything else (5xx, 429, 408, a network error, which is
 * also what a CORS refusal looks like) keeps the batch and tries again after the backoff.
 */
const post = (batch: Rec[]) => {
  inFlight = batch;
  request(batch).then(
    (response) => {
      const { ok, status } = response;
      inFlight = [];
      if (!ok && !REFUSED.includes(status)) return retry(+response.headers.get('retry-after')!);
      if (ok) {
        log('sent', batch);
        if (DEBUG && debug)
          response
            .json()
            .then((answer: { rejected?: { index: number; error: string }[] }) => {
              answer.rejected?.map(({ index, error }) => ignore('invalid', batch[index]!.e, error));
            })
            .catch(String); // an answer that is not what the collector sends: nothing to show
      } else ignore('refused', status, batch);
      failures = 0;
      forget(batch);
      remove(batch);
      send();
    },
    () => {
      inFlight = [];
      retry();
    },
  );
};

/**
 * Sends this tab's events. Bounds the buffer (the newest 1,000 events stay) and decides consent for
 * each event: refused ones are dropped, held ones stay. Then, while the page lives, the first batch
 * (at most 60 KB) goes by `fetch`, unless a request is in flight. `leaving` (hidden, pagehide;
 * synchronous): the browser may end the page any moment now, and only a beacon survives that. Every
 * batch that fits goes by `sendBeacon` (the one in flight excepted); its events stay in IndexedDB
 * marked as sent, for a later page to send once more, since a beacon hears no answer.
 */
export const send = (leaving?: boolean): void => {
  try {
    if (inFlight[0] && !leaving) return;
    const kept: Rec[] = [];
    const due: Rec[] = [];
    const dropped: Rec[] = [];
    while (owned.length > MAX_EVENTS) {
      ignore('full', owned[0]!.e);
      dropped.push(owned.shift()!);
    }
    for (const rec of owned) {
      if (rec.p && decided) {
        // tracked before the visitor decided: it takes the decision
        rec.e.consent = stamp();
        rec.p = 0;
      }
      const action = verdict(rec.e.consent!, rec.p, required);
      if (action == DROP) {
        ignore('consent', rec.e);
        dropped.push(rec);
      } else {
        kept.push(rec);
        if (action == HOLD) log('held', rec.e);
        else if (!inFlight.includes(rec)) due.push(rec);
      }
    }
    owned = kept;
    remove(dropped);
    for (const batch of batches(due, size, MAX_BYTES)) {
      if (!leaving) return post(batch);
      // offline, a beacon would only be lost: the events wait in IndexedDB
      if (navigator.onLine && beacon(batch)) {
        log('beacon', batch);
        unconfirmed(batch);
        forget(batch);
      }
    }
  } catch {}
};

/**
 * pagehide: beacons what fits; the answer to the request in flight will not be heard, so its
 * events are marked as sent too; whatever else this tab holds waits in IndexedDB for the next page.
 */
export const leave = (): void => {
  unconfirmed(inFlight);
  send(true);
  if (idbOk) owned = [];
};
