import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNextdoor } from '../../../../e2e/vendors/nextdoor.js';
import type { VendorServer } from '../../../../e2e/vendors/server.js';
import { BadCredentialsError, InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { expectRetryable, send, thrownBy } from '../testing.js';
import { nextdoor } from './index.js';

const TOKEN = 'nextdoor-test-token';
const DATA_SOURCE = '5b0b9e9a-156a-11ee-be56-0242ac120002';

const event: StoredEvent = {
  id: 'evt-0002-abcdef',
  name: 'purchase',
  time: 1795344440999,
  url: 'https://shop.example/checkout',
  clickIds: { ndclid: 'nd-click-1' },
  properties: {
    transaction_id: 'T-1001',
    value: 42.5,
    currency: 'USD',
    user_data: { email: 'a@b.example', address: { country: 'US', region: 'TX' } },
  },
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 Test', receivedAt: 1795344441000 },
};

let server: VendorServer;
beforeAll(async () => {
  server = await startNextdoor(TOKEN, DATA_SOURCE);
});
afterAll(() => server.close());

const create = (extra: Record<string, unknown> = {}) =>
  nextdoor.create(nextdoor.settings.parse({ token: TOKEN, dataSourceId: DATA_SOURCE, baseUrl: server.url, ...extra }));

async function mapped(dest: ReturnType<typeof create>, e: StoredEvent) {
  const m = await dest.map(e);
  if (!('payload' in m)) throw new Error(`skipped: ${'skip' in m ? m.skip : m.reason}`);
  return m.payload;
}

describe('nextdoor settings', () => {
  it('defaults: GA4 events, ad consent, skip GPC opt-outs', () => {
    const s = nextdoor.settings.parse({ token: 'token-1234', dataSourceId: 'ds' });
    expect(s.baseUrl).toBe('https://ads.nextdoor.com');
    expect(s.events).toMatchObject({
      purchase: 'purchase',
      generate_lead: 'lead',
      begin_checkout: 'initiate_checkout',
    });
    expect(s.consent).toEqual(['ad_storage', 'ad_user_data']);
    expect(s.restrictedDataUsage).toBe('skip');
  });
  it('refuses event names Nextdoor does not know and bad countries', () => {
    expect(nextdoor.settings.safeParse({ token: 'token-1234', dataSourceId: 'ds', events: { purchase: 'buy' } }).success).toBe(
      false,
    );
    expect(nextdoor.settings.safeParse({ token: 'token-1234', dataSourceId: 'ds', defaultCountry: 'XX' }).success).toBe(false);
    expect(nextdoor.settings.parse({ token: 'token-1234', dataSourceId: 'ds', defaultCountry: 'GB' }).defaultCountry).toBe('gb');
  });
});

describe('nextdoor consent', () => {
  it('sends listed events only', () => {
    const d = create({ events: { purchase: 'purchase' } });
    expect(d.vendorEvent(event.name)).toBe('purchase');
    expect(d.vendorEvent('sign_up')).toBeUndefined();
  });
  it('skips denied ad_storage/ad_user_data and GPC by default', async () => {
    const d = create();
    expect(await d.map({ ...event, consent: { ad_storage: 'denied' } })).toEqual({ skip: 'consent: ad_storage' });
    expect(await d.map({ ...event, consent: { gpc: true } })).toEqual({ skip: 'consent: ad_user_data (GPC)' });
  });
  it('restrictedDataUsage "restrict" sends GPC opt-outs flagged; explicit denials still skip', async () => {
    const d = create({ restrictedDataUsage: 'restrict' });
    const p = await mapped(d, { ...event, consent: { gpc: true } });
    expect(p).toMatchObject({
      restricted_data_usage: 1,
      restricted_data_usage_country: 1,
      restricted_data_usage_state: 1005,
    });
    expect(await d.map({ ...event, consent: { gpc: true, ad_user_data: 'denied' } })).toEqual({
      skip: 'consent: ad_user_data',
    });
    const plain = await mapped(d, event);
    expect(plain).not.toHaveProperty('restricted_data_usage');
  });
  it('testEvent becomes test_event', async () => {
    expect(await mapped(create({ testEvent: 'TEST123' }), event)).toMatchObject({ test_event: 'TEST123' });
  });
});

describe('nextdoor send() against a local Nextdoor', () => {
  it('success: the request meets Nextdoor rules (Bearer, JSON, hashes)', async () => {
    server.override = undefined;
    const d = create({ testEvent: 'TEST123' });
    const req = d.request([await mapped(d, event)]);
    expect(req.url).toBe(`${server.url}/v2/api/conversions/track`);
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(() => d.check(res, req)).not.toThrow();
    expect(server.violations).toEqual([]);
    expect(d.secrets).toEqual([TOKEN]);
  });

  it('retryable: 503 with Retry-After, 429 with X-RateLimit-Reset, 408', async () => {
    const d = create();
    const req = d.request([await mapped(d, event)]);
    await expectRetryable(server, d.check, req, [
      [{ status: 503, headers: { 'retry-after': '7' }, body: { message: 'down' } }, 7000],
      [{ status: 429, headers: { 'x-ratelimit-reset': '3' }, body: { message: 'slow down' } }, 3000],
      [{ status: 408, body: { message: 'timeout' } }, undefined],
      [{ status: 500, body: { message: 'oops' } }, undefined],
    ]);
  });


  it('permanent: a 400 keeps the vendor body', async () => {
    server.override = undefined;
    const d = create();
    const payload = await mapped(d, event);
    const req = d.request([{ ...payload, event_name: 'buy' as never }]); // breaks Nextdoor's enum on purpose
    const res = await send(req);
    expect(res.status).toBe(400);
    const err = thrownBy(() => d.check(res, req));
    expect(err).toBeInstanceOf(InvalidEventError);
    expect((err as InvalidEventError).body).toContain('invalid event_name');
    expect((err as InvalidEventError).message).toMatch(
      /^nextdoor \(POST .*\/v2\/api\/conversions\/track\): 400 vendor refused the event: Invalid request/,
    );
    server.violations.length = 0;
  });

  it('bad credentials: 401 on a wrong token', async () => {
    server.override = undefined;
    const d = nextdoor.create(
      nextdoor.settings.parse({ token: 'wrong-secret', dataSourceId: DATA_SOURCE, baseUrl: server.url }),
    );
    const req = d.request([await mapped(d, event)]);
    const res = await send(req);
    expect(res.status).toBe(401);
    expect(() => d.check(res, req)).toThrow(BadCredentialsError);
  });
});
