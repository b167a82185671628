/**
 * Retry delay after `failures` failed requests: 1 s doubling to at most 5 min, times a jitter
 * factor in [0.5, 1.5); never sooner than the collector's `Retry-After` (seconds, counted up to an
 * hour; NaN when absent or a date: ignored).
 */
export const backoff = (failures: number, random: number, retryAfter?: number): number =>
  Math.max(Math.min(1e3 * 2 ** failures, 3e5) * (0.5 + random), Math.min(retryAfter || 0, 3600) * 1e3);
