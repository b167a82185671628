// Helpers for destination tests: send a built request the way the delivery loop does.
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
