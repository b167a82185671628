// Helpers for destination tests: send a built request to a vendor stand-in and check the answer.
import { request } from 'undici';
import { expect } from 'vitest';
import type { VendorAnswer, VendorServer } from '../../../e2e/vendors/server.js';
import { RetryableError } from './errors.js';
import type { HttpRequest, HttpResponse } from './types.js';

/** Sends a built request as it is (the delivery loop's Sender adds pooling and timeouts: delivery/send.test.ts). */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The error `check()` throws for this answer (undefined when it accepts it). */
export function thrownBy(check: () => void): unknown {
  try {
    check();
  } catch (e) {
    return e;
  }
  return undefined;
}

/**
 * Forces each answer on the vendor stand-in, sends `req` and expects `check()` to throw a
 * RetryableError that waits as long as the answer asked (undefined: no wait asked).
 */
export async function expectRetryable(
  server: VendorServer,
  check: (res: HttpResponse, req: HttpRequest) => void,
  req: HttpRequest,
  answers: [VendorAnswer, number | undefined][],
): Promise<void> {
  try {
    for (const [answer, wait] of answers) {
      server.override = () => answer;
      const res = await send(req);
      const err = thrownBy(() => check(res, req));
      expect(err, `status ${answer.status}`).toBeInstanceOf(RetryableError);
      expect((err as RetryableError).retryAfterMs).toBe(wait);
    }
  } finally {
    server.override = undefined;
  }
}
