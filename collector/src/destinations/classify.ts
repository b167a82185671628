import type { HttpRequest, HttpResponse } from './types.js';
import { BadCredentialsError, InvalidEventError, RetryableError } from './errors.js';

const MAX_BODY_KEPT = 2000;

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * How long the vendor asked us to wait, in ms: `Retry-After` (seconds or an HTTP date) or
 * `X-RateLimit-Reset` (seconds to wait, or a Unix time in seconds when it is that large).
 */
export function retryAfterMs(res: HttpResponse, now = Date.now()): number | undefined {
  const ra = header(res, 'retry-after');
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = header(res, 'x-ratelimit-reset');
  if (reset) {
    const n = Number(reset);
    if (Number.isFinite(n) && n >= 0) return n > 1e9 ? Math.max(0, n * 1000 - now) : n * 1000;
  }
  return undefined;
}

/**
 * The common classification of a vendor's answer. `isSuccess` says which statuses (and bodies) the
 * vendor documents as success (default: any 2xx). Throws the matching DeliveryError for everything
 * else. `reason` may read the vendor's error body into a short text added to the message (the whole
 * body is kept on the error either way).
 */
export function classifyResponse(
  destination: string,
  req: HttpRequest,
  res: HttpResponse,
  isSuccess: (status: number, body: string) => boolean = (s) => s >= 200 && s < 300,
  reason?: (body: string) => string | undefined,
): void {
  if (isSuccess(res.status, res.body)) return;
  let why: string | undefined;
  try {
    why = reason?.(res.body);
  } catch {
    why = undefined;
  }
  const says = why ? `: ${why}` : '';
  const details = {
    destination,
    method: req.method,
    url: req.url,
    status: res.status,
    body: res.body.slice(0, MAX_BODY_KEPT),
  };
  if (res.status === 401 || res.status === 403) throw new BadCredentialsError(`credentials refused${says}`, details);
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    throw new RetryableError(`vendor asked to retry${says}`, { ...details, retryAfterMs: retryAfterMs(res) });
  }
  throw new InvalidEventError(`vendor refused the event${says}`, details);
}
