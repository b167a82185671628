/** Retry delay after `n` failures: 1 s doubling to at most 5 min, times a jitter factor in [0.5, 1.5). */
export const backoff = (n: number, random: number): number => Math.min(1e3 * 2 ** n, 3e5) * (0.5 + random);
