import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConvert } from '../../../../e2e/vendors/convert.js';
import type { VendorServer } from '../../../../e2e/vendors/server.js';
import { BadCredentialsError, InvalidEventError } from '../errors.js';
import type { StoredEvent } from '../../event.js';
import { expectRetryable, send, thrownBy } from '../testing.js';
import { convert } from './index.js';

const SECRET = 'convert-sdk-secret';
const SDK_KEY = '10012/k10034';

const purchase: StoredEvent = {
  id: 'evt-0002-abcdef',
  name: 'purchase',
  time: 1795344440999,
  anonymousId: 'anon-1234',
  consent: { analytics_storage: 'granted', ad_storage: 'denied' },
  properties: {
    transaction_id: 'T-1001',
    value: 42.5,
    currency: 'USD',
    items: [{ item_id: 'SKU1', quantity: 2 }],
    user_data: { email: 'a@b.example' },
  },
  context: { ip: '203.0.113.7', userAgent: 'UA', receivedAt: 1795344441000 },
};
const lead: StoredEvent = {
  ...purchase,
  id: 'evt-0003-abcdef',
  name: 'generate_lead',
  anonymousId: 'anon-5678',
  properties: {},
};

let server: VendorServer;
beforeAll(async () => {
  server = await startConvert({ sdkKeySecret: SECRET });
});
afterAll(() => server.close());

const create = (extra: Record<string, unknown> = {}) =>
  convert.create(
    convert.settings.parse({
      accountId: '10012',
      projectId: 10034,
      sdkKeySecret: SECRET,
      trackBaseUrl: server.url,
      configBaseUrl: server.url,
      goals: { purchase: 'checkout-complete', generate_lead: 100132287 },
      ...extra,
    }),
  );

async function mapped(dest: ReturnType<typeof create>, e: StoredEvent) {
  const m = await dest.map(e);
  if (!('payload' in m)) throw new Error(`skipped: ${'skip' in m ? m.skip : m.reason}`);
  return m.payload;
}

describe('convert settings and consent', () => {
  it('defaults: Convert hosts from the project id, analytics_storage consent, enrichData off (only some plans have it)', () => {
    const s = convert.settings.parse({ accountId: '10012', projectId: '10034' });
    const request = convert.create(s).request([{ visitorId: 'v-1', events: [] }]);
    expect(request.url).toBe('https://10034.metrics.convertexperiments.com/v1/track/10012/10034');
    expect(request.headers).not.toHaveProperty('authorization');
    expect(JSON.parse(request.body!)).not.toHaveProperty('enrichData');
    expect(s.configBaseUrl).toBe('https://cdn-4.convertexperiments.com');
    expect(s.consent).toEqual(['analytics_storage']);
    expect(s.enrichData).toBe(false);
    expect(s.goals).toEqual({});
    expect(convert.settings.safeParse({ accountId: 'abc', projectId: '1' }).success).toBe(false);
  });
  it('enrichData: true is sent when the plan has it', () => {
    const s = convert.settings.parse({ accountId: '10012', projectId: '10034', enrichData: true });
    expect(JSON.parse(convert.create(s).request([{ visitorId: 'v-1', events: [] }]).body!).enrichData).toBe(true);
  });
  it('sdkKey: tracking at /v1/track/{sdkKey} with the secret as Bearer; keys are checked', () => {
    const s = convert.settings.parse({ accountId: '10012', projectId: '10034', sdkKey: '10035569/10034190', sdkKeySecret: SECRET });
    const request = convert.create(s).request([{ visitorId: 'v-1', events: [] }]);
    expect(request.url).toBe('https://10034.metrics.convertexperiments.com/v1/track/10035569/10034190');
    expect(request.headers.authorization).toBe(`Bearer ${SECRET}`);
    const bad = (sdkKey: unknown) => convert.settings.safeParse({ accountId: '1', projectId: '2', sdkKey }).success;
    expect(bad('a/b/c')).toBe(false);
    expect(bad('../x')).toBe(false);
    expect(bad('key?x=1')).toBe(false);
    expect(bad('')).toBe(false);
    expect(bad('sk_live-1')).toBe(true);
  });
  it('needs analytics_storage only (ad denial does not matter)', async () => {
    const d = create();
    expect(await d.map({ ...purchase, consent: { analytics_storage: 'denied' } })).toEqual({
      skip: 'consent: analytics_storage',
    });
    expect('payload' in (await d.map(purchase))).toBe(true);
    expect(d.vendorEvent(purchase.name)).toBe('checkout-complete');
    expect(d.vendorEvent('page_view')).toBeUndefined();
  });
  it('an unknown goal key is a rejection with the reason', async () => {
    const d = create({ goals: { purchase: 'nope' } });
    await expect(d.map(purchase)).rejects.toThrow(InvalidEventError);
  });
});

describe('convert send() against a local Convert', () => {
  it('success: many visitors and events in one request, Bearer secret, goal ids from the config API', async () => {
    server.override = undefined;
    const d = create();
    expect(d.maxBatch).toBeGreaterThan(1);
    const req = d.request([
      await mapped(d, purchase),
      await mapped(d, lead),
      await mapped(d, { ...lead, id: 'evt-0004-abcdef', anonymousId: 'anon-1234' }),
    ]);
    expect(req.url).toBe(`${server.url}/v1/track/10012/10034`);
    expect(req.headers.authorization).toBe(`Bearer ${SECRET}`);
    const body = JSON.parse(req.body!);
    expect(body.visitors.map((v: { visitorId: string }) => v.visitorId)).toEqual(['anon-1234', 'anon-5678']);
    expect(body.visitors[0].events).toHaveLength(3);
    expect(body.visitors[0].events[0].data.goalId).toBe('100136097');
    expect(req.body).not.toContain('a@b.example');
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(() => d.check(res, req)).not.toThrow();
    expect(server.violations).toEqual([]);
    expect(d.secrets).toEqual([SECRET]);
  });

  it('no Authorization header without sdkKeySecret', async () => {
    const d = create({ sdkKeySecret: undefined });
    expect(d.request([await mapped(d, lead)]).headers).not.toHaveProperty('authorization');
  });

  it('SDK key authentication: goals read at /api/v1/config/{sdkKey} and tracked at /v1/track/{sdkKey}, both with the secret', async () => {
    const project = await startConvert({ sdkKey: SDK_KEY, sdkKeySecret: SECRET, disableDefaultConfig: true });
    try {
      const d = convert.create(
        convert.settings.parse({
          accountId: '10012', projectId: '10034', sdkKey: SDK_KEY, sdkKeySecret: SECRET,
          trackBaseUrl: project.url, configBaseUrl: project.url, goals: { purchase: 'checkout-complete' },
        }),
      );
      const req = d.request([await mapped(d, purchase)]);
      expect(req.url).toBe(`${project.url}/v1/track/${SDK_KEY}`);
      const res = await send(req);
      expect(res.status).toBe(200);
      expect(() => d.check(res, req)).not.toThrow();
      const config = project.requests.find((r) => r.method === 'GET')!;
      expect(config.path).toBe(`/api/v1/config/${SDK_KEY}`);
      expect(config.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(project.violations).toEqual([]);
    } finally {
      await project.close();
    }
  });

  it('an SDK key without a secret sends no Authorization header, to tracking or config', async () => {
    const project = await startConvert({ sdkKey: SDK_KEY });
    try {
      const d = convert.create(
        convert.settings.parse({ accountId: '10012', projectId: '10034', sdkKey: SDK_KEY, trackBaseUrl: project.url, configBaseUrl: project.url, goals: { purchase: 'checkout-complete' } }),
      );
      const req = d.request([await mapped(d, purchase)]);
      expect(req.headers).not.toHaveProperty('authorization');
      expect((await send(req)).status).toBe(200);
      expect(project.requests.find((r) => r.method === 'GET')!.headers).not.toHaveProperty('authorization');
      expect(project.violations).toEqual([]);
    } finally {
      await project.close();
    }
  });

  it('without an SDK key: the default endpoints, which need no secret; refused (paused) when the project disabled them', async () => {
    const open = await startConvert({ sdkKeySecret: SECRET });
    const closed = await startConvert({ sdkKeySecret: SECRET, disableDefaultConfig: true });
    try {
      const settings = (url: string) =>
        convert.settings.parse({ accountId: '10012', projectId: '10034', trackBaseUrl: url, configBaseUrl: url, goals: { generate_lead: 100132287 } });
      const d = convert.create(settings(open.url));
      const req = d.request([await mapped(d, lead)]);
      expect(req.url).toBe(`${open.url}/v1/track/10012/10034`);
      expect((await send(req)).status).toBe(200);
      const refused = convert.create(settings(closed.url));
      const refusedReq = refused.request([await mapped(refused, lead)]);
      const res = await send(refusedReq);
      expect(res.status).toBe(403);
      expect(() => refused.check(res, refusedReq)).toThrow(BadCredentialsError);
      expect(open.violations).toEqual([]);
    } finally {
      await open.close();
      await closed.close();
    }
  });

  it('bucketingData from the _conv_v cookie is accepted by Convert', async () => {
    server.override = undefined;
    const d = create();
    const withCookie = { ...purchase, properties: { ...purchase.properties, cookies: { _conv_v: 'vi:1731-0.5*exp:{100.{v.200}-101.{v.202}}' } } };
    const req = d.request([await mapped(d, withCookie)]);
    const body = JSON.parse(req.body!);
    expect(body.visitors[0].visitorId).toBe('1731-0.5');
    expect(body.visitors[0].events[0].data.bucketingData).toEqual({ '100': '200', '101': '202' });
    expect((await send(req)).status).toBe(200);
    expect(server.violations).toEqual([]);
  });

  it('retryable: 429 with Retry-After, 503 with X-RateLimit-Reset, 500, 408', async () => {
    const d = create();
    const req = d.request([await mapped(d, lead)]);
    await expectRetryable(server, d.check, req, [
      [{ status: 429, headers: { 'retry-after': '2' }, body: { code: 429, message: 'Too many requests' } }, 2000],
      [{ status: 503, headers: { 'x-ratelimit-reset': '9' } }, 9000],
      [{ status: 500, body: { code: 500, message: 'oops' } }, undefined],
      [{ status: 408 }, undefined],
    ]);
  });


  it('permanent: a 400 keeps Convert {code, message}', async () => {
    server.override = undefined;
    const d = create();
    const payload = await mapped(d, lead);
    const req = d.request([{ ...payload, events: [{ eventType: 'conversion', data: { goalId: '999' } }] }]); // a goal the project lacks
    const res = await send(req);
    expect(res.status).toBe(400);
    const err = thrownBy(() => d.check(res, req));
    expect(err).toBeInstanceOf(InvalidEventError);
    expect(JSON.parse((err as InvalidEventError).body!)).toMatchObject({ code: 400 });
    expect((err as Error).message).toContain('goalId 999 is not a goal of the project');
    server.violations.length = 0;
  });

  it('bad credentials: 401 on a wrong SDK key secret', async () => {
    server.override = undefined;
    const d = create({ sdkKey: SDK_KEY, sdkKeySecret: 'wrong-secret' });
    const req = d.request([await mapped(d, lead)]);
    expect(req.url).toBe(`${server.url}/v1/track/${SDK_KEY}`);
    const res = await send(req);
    expect(res.status).toBe(401);
    expect(() => d.check(res, req)).toThrow(BadCredentialsError);
  });
});
