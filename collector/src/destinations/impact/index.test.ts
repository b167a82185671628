import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImpact } from '../../../../e2e/vendors/impact.js';
import type { VendorServer } from '../../../../e2e/vendors/server.js';
import { BadCredentialsError, InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { expectRetryable, send, thrownBy } from '../testing.js';
import { impact } from './index.js';

const SID = 'IRtest123';
const TOKEN = 'impact-test-token';

const event: StoredEvent = {
  id: 'evt-0002-abcdef',
  name: 'purchase',
  time: 1795344440999,
  anonymousId: 'anon-1234',
  clickIds: { clickid: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0' },
  consent: { ad_storage: 'granted' },
  properties: {
    transaction_id: 'T-1001',
    value: 42.5,
    currency: 'USD',
    coupon: 'SPRING',
    items: [{ item_id: 'SKU1', item_name: 'Anvil & Co', item_category: 'Tools', price: 21.25, quantity: 2 }],
    user_data: { email: 'a@b.example' },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 Test', receivedAt: 1795344441000 },
};

let server: VendorServer;
beforeAll(async () => {
  server = await startImpact(SID, TOKEN, '1000');
});
afterAll(() => server.close());

const settings = (extra: Record<string, unknown> = {}) =>
  impact.settings.parse({
    accountSid: SID,
    authToken: TOKEN,
    campaignId: 1000,
    baseUrl: server.url,
    events: { purchase: { eventTypeId: '12345' } },
    ...extra,
  });
const create = (extra: Record<string, unknown> = {}) => impact.create(settings(extra));

async function mapped(dest: ReturnType<typeof create>, e: StoredEvent) {
  const m = await dest.map(e);
  if (!('payload' in m)) throw new Error(`skipped: ${'skip' in m ? m.skip : m.reason}`);
  return m.payload;
}

describe('impact settings and consent', () => {
  it('parses ids as strings, defaults consent to ad_storage + ad_user_data', () => {
    const s = settings({ events: { purchase: { eventTypeId: 12345 }, sign_up: { eventTypeCode: 'SIGNUP' } } });
    expect(s.campaignId).toBe('1000');
    expect(s.events.purchase).toEqual({ eventTypeId: '12345' });
    expect(s.consent).toEqual(['ad_storage', 'ad_user_data']);
    expect(s.baseUrl).toBe(server.url);
  });
  it('refuses an event type with both or neither of id and code, and non-numeric ids', () => {
    const bad = (events: unknown) =>
      impact.settings.safeParse({ accountSid: SID, authToken: TOKEN, campaignId: '1000', events }).success;
    expect(bad({ purchase: { eventTypeId: '1', eventTypeCode: 'X' } })).toBe(false);
    expect(bad({ purchase: {} })).toBe(false);
    expect(bad({ purchase: { eventTypeId: 'abc' } })).toBe(false);
    expect(impact.settings.safeParse({ accountSid: SID, authToken: TOKEN, campaignId: 'x' }).success).toBe(false);
  });
  it('vendorEvent names the event type; consent denials and GPC skip', async () => {
    const d = create();
    expect(d.vendorEvent(event.name)).toBe('12345');
    expect(d.vendorEvent('page_view')).toBeUndefined();
    expect(await d.map({ ...event, consent: { ad_storage: 'denied' } })).toEqual({ skip: 'consent: ad_storage' });
    expect(await d.map({ ...event, consent: { gpc: true } })).toEqual({ skip: 'consent: ad_user_data (GPC)' });
  });
  it('with consent: [] a denied visitor is sent with TrackingConsent=false', async () => {
    const p = await mapped(create({ consent: [] }), { ...event, consent: { ad_storage: 'denied' } });
    expect(p.TrackingConsent).toBe('false');
  });
  it('defaultItemCategory: "default" unless set; sent for items without item_category', async () => {
    expect(settings().defaultItemCategory).toBe('default');
    expect(impact.settings.safeParse({ accountSid: SID, authToken: TOKEN, campaignId: '1000', defaultItemCategory: '' }).success).toBe(false);
    const p = await mapped(create({ defaultItemCategory: 'Hardware' }), {
      ...event,
      properties: { ...event.properties, items: [{ item_id: 'SKU9', price: 4, discount: 1 }] },
    });
    expect(p).toMatchObject({ ItemCategory1: 'Hardware', ItemPrice1: '5.00', ItemDiscount1: '1.00' });
  });
  it('keeps the Basic credentials out of logs', () => {
    const d = create();
    expect(d.secrets).toContain(TOKEN);
    expect(d.secrets).toContain(Buffer.from(`${SID}:${TOKEN}`).toString('base64'));
  });
});

describe('impact send() against a local impact.com', () => {
  it('success: form-urlencoded, Basic auth, the rules met; 200 QUEUED', async () => {
    server.override = undefined;
    const d = create();
    const req = d.request([await mapped(d, event)]);
    expect(req.url).toBe(`${server.url}/Advertisers/${SID}/Conversions`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(req.body).get('ItemName1')).toBe('Anvil & Co');
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ Status: 'QUEUED' });
    expect(() => d.check(res, req)).not.toThrow();
    expect(server.violations).toEqual([]);
  });

  it('impact takes item categories, discounts, customer status, and an event whose click id was too long', async () => {
    server.override = undefined;
    const d = create();
    const e: StoredEvent = {
      ...event,
      clickIds: { clickid: 'c'.repeat(80) },
      properties: { ...event.properties, discount: 2, new_customer: true, items: [{ item_id: 'SKU1', price: 20, discount: 1.25, quantity: 2 }] },
    };
    const req = d.request([await mapped(d, e)]);
    const form = Object.fromEntries(new URLSearchParams(req.body));
    expect(form).toMatchObject({ ItemCategory1: 'default', ItemPrice1: '21.25', ItemDiscount1: '1.25', OrderDiscount: '2.00', CustomerStatus: 'NEW' });
    expect(form).not.toHaveProperty('ClickId');
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(server.violations).toEqual([]);
  });

  it('the stand-in refuses items without ItemCategory, as impact documents', async () => {
    server.override = undefined;
    const d = create();
    const { ItemCategory1: _category, ...payload } = await mapped(d, event);
    const res = await send(d.request([payload as never]));
    expect(res.status).toBe(400);
    expect(res.body).toContain('ItemCategory1');
    server.violations.length = 0;
  });

  it('retryable: 429 with X-RateLimit-Reset, 503 with Retry-After, 500, 408', async () => {
    const d = create();
    const req = d.request([await mapped(d, event)]);
    await expectRetryable(server, d.check, req, [
      [
        { status: 429, headers: { 'x-ratelimit-reset': '12' }, body: { Status: 'ERROR', Message: 'rate limit' } },
        12000,
      ],
      [{ status: 503, headers: { 'retry-after': '5' } }, 5000],
      [{ status: 500, body: { Status: 'ERROR' } }, undefined],
      [{ status: 408 }, undefined],
    ]);
  });


  it('permanent: a 400 keeps impact errors[] in the body and the message', async () => {
    server.override = undefined;
    const d = create();
    const payload = await mapped(d, event);
    const req = d.request([{ ...payload, ItemPrice1: 'fifty' }]); // breaks impact's numeric format on purpose
    const res = await send(req);
    expect(res.status).toBe(400);
    const err = thrownBy(() => d.check(res, req));
    expect(err).toBeInstanceOf(InvalidEventError);
    expect(JSON.parse((err as InvalidEventError).body!).errors[0]).toEqual({
      field: 'ItemPrice1',
      level: 'ERROR',
      message: 'Invalid numeric format (fifty)',
    });
    expect((err as Error).message).toContain(
      '400 vendor refused the event: ItemPrice1: Invalid numeric format (fifty)',
    );
    server.violations.length = 0;
  });

  it('permanent: a 200 that says Status ERROR is a refusal', () => {
    const d = create();
    const req = d.request([{} as never]);
    const res = {
      status: 200,
      headers: {},
      body: JSON.stringify({ Status: 'ERROR', errors: [{ field: 'OrderId', level: 'ERROR', message: 'duplicate' }] }),
    };
    expect(() => d.check(res, req)).toThrow(InvalidEventError);
  });

  it('bad credentials: 401 on a wrong token', async () => {
    server.override = undefined;
    const d = create({ authToken: 'wrong-secret' });
    const req = d.request([await mapped(d, event)]);
    const res = await send(req);
    expect(res.status).toBe(401);
    expect(() => d.check(res, req)).toThrow(BadCredentialsError);
  });
});
