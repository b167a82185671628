import { describe, expect, it } from 'vitest';
import { eventSchema } from '../event.js';
import { parseCollectBody } from './validate.js';

const full = {
  id: 'evt-12345678',
  name: 'purchase',
  time: 1_760_000_000_000,
  anonymousId: 'anon-1',
  url: 'https://shop.example/checkout',
  referrer: 'https://search.example/',
  clickIds: { clickid: 'abc', ndclid: 'nd-1' },
  consent: { ad_storage: 'granted', ad_user_data: 'denied', gpc: false, gdpr: true },
  properties: { value: 42.5, currency: 'USD', items: [{ item_id: 'SKU1', quantity: 2 }], user_data: { email: 'a@b.example' } },
} as const;

describe('parseCollectBody', () => {
  it('keeps a valid event exactly as sent (the strict schema transforms nothing, so no copy is needed)', () => {
    // /collect stores the parsed value itself: this holds only while the schema's output equals its input.
    expect(eventSchema.parse(structuredClone(full))).toStrictEqual(full);
    const batch = parseCollectBody(Buffer.from(JSON.stringify({ v: 1, events: [full] })));
    expect(batch.events).toStrictEqual([full]);
    expect(batch.rejected).toEqual([]);
  });

  it('keeps the valid events of a batch and lists the others with their position and reason', () => {
    const bad = { ...full, id: 'evt-87654321', extra: true };
    const batch = parseCollectBody(Buffer.from(JSON.stringify({ v: 1, events: [bad, full] })));
    expect(batch.events.map((e) => e.id)).toEqual(['evt-12345678']);
    expect(batch.rejected).toEqual([{ index: 0, error: expect.stringContaining('extra') }]);
  });
});

describe('parseCollectBody: one bad event is refused alone', () => {
  const good = { id: 'evt-good-00001', name: 'purchase', time: 1795344440021 };
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 10; i++) deep = { deep };
  it.each([
    ['nested too deep', { ...good, id: 'evt-deep-00001', properties: deep }, /^events\.1 is nested deeper than 8 levels$/],
    ['a prototype key', JSON.parse('{"id":"evt-proto-0001","name":"x","time":1795344440021,"properties":{"__proto__":{"a":1}}}'), /key "__proto__" is not allowed/],
    ['a long key', { ...good, id: 'evt-key-000001', properties: { ['k'.repeat(129)]: 1 } }, /events\.1\.properties: a key is longer than 128/],
    ['a long string', { ...good, id: 'evt-str-000001', properties: { note: 'x'.repeat(2049) } }, /events\.1\.properties\.note: longer than 2048/],
  ])('%s: its neighbours are kept', (_what, bad, message) => {
    const batch = parseCollectBody(Buffer.from(JSON.stringify({ v: 1, events: [good, bad, { ...good, id: 'evt-good-00002' }] }).replace('"__proto__"', '"__proto__"')));
    expect(batch.events.map((e) => e.id)).toEqual(['evt-good-00001', 'evt-good-00002']);
    expect(batch.rejected).toHaveLength(1);
    expect(batch.rejected[0]!.index).toBe(1);
    expect(batch.rejected[0]!.error).toMatch(message);
  });
  it('refuses an event holding text no store can keep (a NUL, half a surrogate pair), alone; a whole pair (an emoji) is fine', () => {
    const events = [
      { ...full, id: 'evt-nul-0001', properties: { note: 'a\u0000b' } },
      { ...full, id: 'evt-sur-0002', properties: { note: 'x\ud83d' } },
      { ...full, id: 'evt-sur-0003', clickIds: { clickid: '\ude00y' } },
      { ...full, id: 'evt-key-0004', properties: { ['k\u0000']: 1 } },
      { ...full, id: 'evt-emoji-05', properties: { note: 'fine \ud83d\ude00' } },
    ];
    const batch = parseCollectBody(Buffer.from(JSON.stringify({ v: 1, events })));
    expect(batch.events.map((e) => e.id)).toEqual(['evt-emoji-05']);
    expect(batch.rejected).toEqual([
      { index: 0, error: 'events.0.properties.note: holds a NUL character or half of a surrogate pair' },
      { index: 1, error: 'events.1.properties.note: holds a NUL character or half of a surrogate pair' },
      { index: 2, error: 'events.2.clickIds.clickid: holds a NUL character or half of a surrogate pair' },
      { index: 3, error: 'events.3.properties: a key holds a NUL character or half of a surrogate pair' },
    ]);
  });

  it('a prototype key around the events still refuses the body', () => {
    expect(() => parseCollectBody(Buffer.from('{"v":1,"__proto__":{},"events":[]}'))).toThrow(/key "__proto__" is not allowed/);
  });
});
