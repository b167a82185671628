import { ignore } from './log.js';
import { endpoint } from './options.js';
import type { Rec } from './store.js';

/**
 * One `/collect` v1 request. `sendBeacon` with a string body (text/plain, so no CORS preflight):
 * `done` as soon as the browser accepts it. Where sendBeacon is missing or refuses (keepalive
 * quota), `fetch` keepalive: any answer is `done` (a refusal is shown in debug mode, as with a
 * beacon the tag cannot see it otherwise); a network error, or a throwing sendBeacon or fetch,
 * `back` (kept, retried with backoff).
 */
export const transmit = (recs: Rec[], done: () => void, back: () => void): void => {
  const body = JSON.stringify({ v: 1, events: recs.map((rec) => rec.e) });
  try {
    if (navigator.sendBeacon?.(endpoint, body)) return done();
    fetch(endpoint, { method: 'POST', body, keepalive: true }).then((response) => {
      if (!response.ok) ignore('refused', response.status);
      done();
    }, back);
  } catch {
    back();
  }
};
