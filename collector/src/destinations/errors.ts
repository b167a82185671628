/**
 * The closed set of delivery failures. The delivery loop decides retry, pause or give up from the
 * class alone. Every message names the destination, the method and the URL; `cause` is kept.
 */

import { redactUrl } from '../redact.js';

interface FailureDetails {
  destination: string;
  method?: string;
  url?: string;
  status?: number;
  /** The vendor's own answer (body), kept for the operator. */
  body?: string;
  cause?: unknown;
}

function describe(summary: string, d: FailureDetails): string {
  const where = d.method && d.url ? ` (${d.method} ${redactUrl(d.url)})` : '';
  const status = d.status ? ` ${d.status}` : '';
  return `${d.destination}${where}:${status} ${summary}`.trim();
}

abstract class DeliveryFailure extends Error {
  abstract override readonly name: 'InvalidEventError' | 'BadCredentialsError' | 'RetryableError';
  readonly destination: string;
  readonly status?: number;
  readonly body?: string;
  constructor(summary: string, details: FailureDetails) {
    super(describe(summary, details), { cause: details.cause });
    this.destination = details.destination;
    this.status = details.status;
    this.body = details.body;
  }
}

/** The vendor refused the event for what it holds (or it cannot meet the vendor's rules): never retried. */
export class InvalidEventError extends DeliveryFailure {
  readonly name = 'InvalidEventError' as const;
}

/** 401/403: the destination pauses until the operator fixes its credentials; its events wait. */
export class BadCredentialsError extends DeliveryFailure {
  readonly name = 'BadCredentialsError' as const;
}

/** 408, 429, 5xx and network errors: tried again later, no earlier than `retryAfterMs` when the vendor said so. */
export class RetryableError extends DeliveryFailure {
  readonly name = 'RetryableError' as const;
  readonly retryAfterMs?: number;
  constructor(summary: string, details: FailureDetails & { retryAfterMs?: number }) {
    super(summary, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

export type DeliveryError = InvalidEventError | BadCredentialsError | RetryableError;

export function isDeliveryError(e: unknown): e is DeliveryError {
  return e instanceof InvalidEventError || e instanceof BadCredentialsError || e instanceof RetryableError;
}
