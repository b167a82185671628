/** The longest wait a vendor's Retry-After or X-RateLimit-Reset is honoured for. */
export const MAX_VENDOR_WAIT_MS = 3_600_000;

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * a random delay in [0, min(cap, base * 2^attempt)), never shorter than what the vendor asked for
 * (up to an hour).
 */
export function backoffMs(
  attempt: number,
  opts: { baseMs: number; maxMs: number; retryAfterMs?: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, Math.min(opts.retryAfterMs ?? 0, MAX_VENDOR_WAIT_MS));
}
