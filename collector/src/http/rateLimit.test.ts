import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rateLimit.js';

describe('RateLimiter', () => {
  it('lets a burst through, then one request per token, and says how long to wait', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ ratePerSecond: 20, burst: 100 }, () => now);
    for (let i = 0; i < 100; i++) expect(limiter.take('198.51.100.1')).toBe(0);
    expect(limiter.take('198.51.100.1')).toBe(1);
    now += 50; // one token at 20 a second
    expect(limiter.take('198.51.100.1')).toBe(0);
    expect(limiter.take('198.51.100.1')).toBe(1);
    limiter.close();
  });

  it('keeps one bucket per client: an abusive one never takes the others\' tokens', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2 }, () => 0);
    limiter.take('a');
    limiter.take('a');
    expect(limiter.take('a')).toBeGreaterThan(0);
    expect(limiter.take('b')).toBe(0);
    limiter.close();
  });

  it('waits longer than a second when the rate is slower than one a second', () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.1, burst: 1 }, () => 0);
    limiter.take('a');
    expect(limiter.take('a')).toBe(10);
    limiter.close();
  });
});
