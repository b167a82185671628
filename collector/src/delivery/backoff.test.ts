import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';

describe('backoffMs', () => {
  const opts = { baseMs: 1000, maxMs: 60_000 };
  it('grows exponentially up to the cap, with full jitter', () => {
    expect(backoffMs(0, opts, () => 0.999)).toBe(999);
    expect(backoffMs(3, opts, () => 0.999)).toBe(7992);
    expect(backoffMs(20, opts, () => 0.999)).toBe(59_940);
    expect(backoffMs(5, opts, () => 0)).toBe(0);
  });
  it('never waits less than the vendor asked for', () => {
    expect(backoffMs(0, { ...opts, retryAfterMs: 30_000 }, () => 0.5)).toBe(30_000);
  });
  it('honours a vendor wait up to an hour, no longer', () => {
    expect(backoffMs(0, { ...opts, retryAfterMs: 10 * 86_400_000 }, () => 0)).toBe(3_600_000);
  });
  it('spreads retries across the whole window', () => {
    const samples = Array.from({ length: 2000 }, () => backoffMs(4, opts));
    expect(Math.min(...samples)).toBeLessThan(2000);
    expect(Math.max(...samples)).toBeGreaterThan(14_000);
    expect(Math.max(...samples)).toBeLessThan(16_000);
  });
});
