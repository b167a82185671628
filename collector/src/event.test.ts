import { describe, expect, it } from 'vitest';
import { eventSchema, isValidEvent } from './event.js';

const base = {
  id: 'evt-12345678',
  name: 'purchase',
  time: 1_760_000_000_000,
  anonymousId: 'anon-1',
  url: 'https://shop.example/checkout',
  referrer: 'https://search.example/',
  clickIds: { clickid: 'abc', ndclid: 'nd-1' },
  consent: { ad_storage: 'granted', ad_user_data: 'denied', gpc: false, gdpr: true },
  properties: { value: 42.5, items: [{ item_id: 'SKU1' }] },
};

const MISSING = Symbol('missing');
const text = (n: number, c = 'a') => c.repeat(n);

/** Values each field may take in a generated event: valid ones, edge cases on both sides of each limit, wrong types. */
const values: Record<string, unknown[]> = {
  id: [
    MISSING,
    'evt-1234',
    text(7),
    text(8),
    text(64),
    text(65),
    'evt 12345678',
    'evt-1234567é',
    'a.b:c_d-e9',
    '',
    12345678,
    null,
  ],
  name: [MISSING, 'x', '', text(64), text(65), 'page view', 'sign_up', 'a/b', 1, null, ['purchase']],
  time: [
    MISSING,
    946_684_800_000,
    946_684_799_999,
    4_102_444_800_000,
    4_102_444_800_001,
    1.5e12 + 0.5,
    '1760000000000',
    null,
    -1,
    0,
    2 ** 53,
  ],
  anonymousId: [MISSING, '', text(256), text(257), 5, null, {}],
  url: [MISSING, '', text(2048), text(2049), 1, null, ['u']],
  referrer: [MISSING, '', text(2048), text(2049), false, null],
  clickIds: [
    MISSING,
    {},
    { a: 'b' },
    { [text(64)]: 'v' },
    { [text(65)]: 'v' },
    { a: text(512) },
    { a: text(513) },
    { a: 1 },
    { a: null },
    null,
    [],
    ['a'],
    'a',
  ],
  consent: [
    MISSING,
    {},
    { ad_storage: 'granted' },
    { analytics_storage: 'denied', ad_personalization: 'granted' },
    { ad_storage: 'maybe' },
    { ad_storage: true },
    { gpc: true, gdpr: false },
    { gpc: 'true' },
    { gdpr: 1 },
    { other: 'granted' },
    { ad_storage: null },
    null,
    [],
    'granted',
  ],
  properties: [MISSING, {}, { a: 1 }, { nested: { deep: [1, 2] } }, [], null, 'p', 3],
  extra: [MISSING, MISSING, MISSING, 1, 'x', null],
};

/** A small seeded PRNG (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('isValidEvent', () => {
  it('takes exactly what eventSchema takes, over 20,000 generated events', () => {
    const next = random(11);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const event: Record<string, unknown> = { ...base };
      // one to three fields changed, so most events differ from the valid base in one way only
      const changes = 1 + Math.floor(next() * 3);
      for (let c = 0; c < changes; c++) {
        const fields = Object.keys(values);
        const field = fields[Math.floor(next() * fields.length)]!;
        const options = values[field]!;
        const value = options[Math.floor(next() * options.length)];
        if (value === MISSING) delete event[field];
        else event[field] = structuredClone(value);
      }
      const byZod = eventSchema.safeParse(event).success;
      if (isValidEvent(event) !== byZod)
        expect({ event, isValidEvent: !byZod }).toEqual({ event, isValidEvent: byZod });
      if (byZod) valid++;
    }
    // both kinds are well represented
    expect(valid).toBeGreaterThan(2_000);
    expect(valid).toBeLessThan(18_000);
  });

  it('takes the valid base and refuses what is not an event', () => {
    expect(isValidEvent(base)).toBe(true);
    for (const v of [null, undefined, 'event', 1, [], [base]]) expect(isValidEvent(v)).toBe(false);
  });
});
