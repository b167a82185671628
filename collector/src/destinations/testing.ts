// Helpers for destination tests: send a built request the way the delivery loop does.
import { expect } from 'vitest';
import type { VendorAnswer, VendorServer } from '../../../e2e/vendors/server.js';
import { RetryableError } from '../delivery/errors.js';
import { Sender } from '../delivery/send.js';
import type { HttpRequest, HttpResponse } from './types.js';

const sender = new Sender('test', { connections: 4, timeoutMs: 5000 });

/** Sends a built request through the collector's own Sender (undici pool). */
export function send(req: HttpRequest): Promise<HttpResponse> {
  return sender.send(req);
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

/** A request to a port where nothing listens fails as a RetryableError through the collector's Sender. */
export async function expectNetworkErrorRetryable(req: HttpRequest): Promise<void> {
  const closed = new Sender('test', { connections: 1, timeoutMs: 2000 });
  try {
    await expect(closed.send(req)).rejects.toThrow(RetryableError);
  } finally {
    await closed.close();
  }
}
