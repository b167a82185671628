import { endpoint, withCookie } from './options.js';
import type { Rec } from './store.js';

/**
 * `/collect` v1 requests, always a string body: `text/plain`, a simple request that needs no CORS
 * preflight (https://fetch.spec.whatwg.org/#cors-safelisted-request-header).
 */
const body = (recs: Rec[]): string => JSON.stringify({ v: 1, events: recs.map((rec) => rec.e) });

/**
 * While the page lives: `fetch` with `keepalive` (it still completes if the page closes meanwhile).
 * The collector's CORS answer lets the tag read the status.
 */
export const request = (recs: Rec[]): Promise<Response> =>
  fetch(endpoint, { method: 'POST', body: body(recs), keepalive: true, credentials: withCookie ? 'include' : 'same-origin' });

/**
 * When the page is hidden or closing: `navigator.sendBeacon`, the one request browsers promise to
 * send after the page is gone (https://w3c.github.io/beacon/). Whether the browser took it (undefined
 * without sendBeacon); no answer ever comes back.
 */
export const beacon = (recs: Rec[]): boolean | undefined => navigator.sendBeacon?.(endpoint, body(recs));
