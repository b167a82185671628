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
