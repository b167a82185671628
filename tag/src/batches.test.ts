import { describe, expect, it } from 'vitest';
import { backoff } from './backoff.js';
import { batches as lazyBatches } from './batches.js';
import { clean } from './clean.js';

describe('batches', () => {
  const batches = <T>(items: T[], size: (t: T) => number, max: number) => [...lazyBatches(items, size, max)];
  const len = (s: string) => s.length;

  it('keeps order and stays within the byte limit (one separator byte per item)', () => {
    const items = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(9, 'x')); // 9 bytes + 1
    const out = batches(items, len, 30);
    expect(out.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(out.flat()).toEqual(items);
  });

  it('measures lazily: only the items of the batches taken', () => {
    const measured: string[] = [];
    const size = (s: string) => (measured.push(s), s.length);
    const first = lazyBatches(['aaaa', 'bbbb', 'cccc', 'dddd'], size, 10).next().value;
    expect(first).toEqual(['aaaa', 'bbbb']);
    expect(measured).toEqual(['aaaa', 'bbbb', 'cccc']);
  });

  it('returns no batch for no items, and an oversized item alone', () => {
    expect(batches([], len, 10)).toEqual([]);
    expect(batches(['a', 'x'.repeat(50), 'b'], len, 10)).toEqual([['a'], ['x'.repeat(50)], ['b']]);
  });

  it('splits 200 events of ~400 bytes into requests of at most 60 KB', () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `${i}`, pad: 'p'.repeat(380) }));
    const size = (e: unknown) => new TextEncoder().encode(JSON.stringify(e)).length;
    const out = batches(events, size, 61420);
    expect(out.length).toBe(2);
    for (const b of out) expect(new TextEncoder().encode(JSON.stringify({ v: 1, events: b })).length).toBeLessThanOrEqual(61440);
  });
});

describe('backoff', () => {
  it('doubles from 1 s, capped at 5 min, with jitter between 0.5x and 1.5x', () => {
    expect(backoff(0, 0.5)).toBe(1000);
    expect(backoff(3, 0.5)).toBe(8000);
    expect(backoff(20, 0.5)).toBe(300000);
    expect(backoff(1, 0)).toBe(1000);
    expect(backoff(1, 0.999)).toBeCloseTo(2998);
  });

  it("never sooner than the collector's Retry-After (seconds, counted up to an hour)", () => {
    expect(backoff(0, 0.5, 30)).toBe(30000);
    expect(backoff(3, 0.5, 2)).toBe(8000); // the backoff is longer
    expect(backoff(0, 0.5, 86400)).toBe(3600000);
    expect(backoff(0, 0.5, NaN)).toBe(1000); // an HTTP date or garbage: the backoff alone
    expect(backoff(0, 0.5, 0)).toBe(1000);
  });
});

describe('clean', () => {
  it('cuts strings to 2,048 characters and arrays to 200 items, drops undefined and functions', () => {
    const out = clean({ s: 'x'.repeat(3000), a: Array(300).fill(1), u: undefined, f: () => 1, n: NaN, d: new Date(0) }) as Record<string, unknown>;
    expect((out.s as string).length).toBe(2048);
    expect((out.a as unknown[]).length).toBe(200);
    expect(out).not.toHaveProperty('u');
    expect(out).not.toHaveProperty('f');
    expect(out.n).toBeNull();
    expect(out.d).toBe('1970-01-01T00:00:00.000Z');
  });
});
