// Attribution that lasts and conversions that cannot be forged, over real HTTP: the shop's browser
// (as the tag posts) and its backend (with a server key) against the real collector and vendor stand-ins.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Collector, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import { startImpact } from './vendors/impact.js';
import type { VendorServer } from './vendors/server.js';

const SERVER_KEY = 'shop-backend-key-0123456789';
const ORIGIN = 'https://shop.example';
let collector: Collector | undefined;
const vendors: VendorServer[] = [];
afterEach(async () => {
  await collector?.stop();
  for (const v of vendors.splice(0)) await v.close();
  collector = undefined;
});

async function setUp(extra: { impact?: Record<string, unknown>; config?: Record<string, unknown> } = {}) {
  const impact = await startImpact('IRattr01', 'impact-attr-token', '1000');
  const chase = await startChase('chase-attr-key');
  vendors.push(impact, chase);
  collector = await Collector.start({
    config: {
      allowedOrigins: [ORIGIN],
      serverKeys: [SERVER_KEY],
      ...extra.config,
      destinations: {
        impact: {
          accountSid: 'IRattr01',
          authToken: 'impact-attr-token',
          campaignId: '1000',
          baseUrl: impact.url,
          events: { purchase: { eventTypeId: '1' } },
          ...extra.impact,
        },
        chase: { apiKey: 'chase-attr-key', baseUrl: chase.url, events: { purchase: 'purchase' } },
      },
    },
  });
  return { impact, chase, c: collector };
}

const fromBrowser = (c: Collector, events: unknown[], headers: Record<string, string> = {}) =>
  fetch(`${c.url}/collect`, { method: 'POST', headers: { origin: ORIGIN, ...headers }, body: JSON.stringify({ v: 1, events }) });
const fromBackend = (c: Collector, events: unknown[], key = SERVER_KEY) =>
  fetch(`${c.url}/collect`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ v: 1, events }) });

/** A request as a browser sends it to the collector reached by another name (fetch cannot set Host): its status and headers. */
function asHost(c: Collector, method: string, headers: Record<string, string>, body = ''): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${c.url}/collect`, { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const pageView = (id: string, anonymousId: string) => JSON.stringify({ v: 1, events: [{ id, name: 'page_view', time: Date.now(), anonymousId }] });

const purchase = (id: string, extra: Record<string, unknown> = {}, properties: Record<string, unknown> = {}) => ({
  id,
  name: 'purchase',
  time: Date.now(),
  anonymousId: 'visitor-0001',
  properties: { transaction_id: 'T-5001', value: 10, currency: 'USD', user_data: { email: 'ann@example.com' }, ...properties },
  ...extra,
});
const form = (r: { body: string }) => Object.fromEntries(new URLSearchParams(r.body));

describe('conversions confirmed by the shop\'s backend', () => {
  it('a forged browser purchase never reaches a verifiedOnly destination; the backend-confirmed one arrives once, with the server\'s value and the browser\'s click id', async () => {
    const { impact, c } = await setUp({ impact: { verifiedOnly: ['purchase'] } });
    // The visitor landed from an affiliate link: the tag's page_view carried the click id.
    expect((await fromBrowser(c, [{ id: 'evt-landing-0001', name: 'page_view', time: Date.now(), anonymousId: 'visitor-0001', clickIds: { irclickid: 'ir-click-1' } }])).status).toBe(200);
    // A forger posts a purchase as a browser would, with a stolen click id.
    await fromBrowser(c, [purchase('evt-forged-0001', { anonymousId: 'forger', clickIds: { irclickid: 'stolen' } }, { transaction_id: 'T-FAKE', value: 999 })]);
    // The real order: the browser reports it, then the backend confirms it with the amount it charged.
    await fromBrowser(c, [purchase('evt-browser-001', { clickIds: { irclickid: 'ir-click-1' } }, { value: 10 })]);
    const backend = await fromBackend(c, [purchase('evt-server-0001', {}, { value: 12.5 })]);
    expect(backend.status).toBe(200);

    await waitFor(() => impact.requests.length >= 1, 10000, 'the confirmed purchase at impact');
    await new Promise((r) => setTimeout(r, 1500));
    expect(impact.requests.map(form)).toEqual([
      expect.objectContaining({ OrderId: 'T-5001', ClickId: 'ir-click-1', OrderSubTotalPostDiscount: '12.50' }),
    ]);
    expect(impact.violations).toEqual([]);
    const deliveries = await c.deliveries();
    const forged = deliveries.find((d) => d.eventId === 'evt-forged-0001' && d.destination === 'impact')!;
    expect(forged).toMatchObject({ state: 'pending', detail: expect.stringMatching(/waiting for the shop's backend to confirm it/) });
    const browser = deliveries.find((d) => d.eventId === 'evt-browser-001' && d.destination === 'impact')!;
    expect(browser.state).toBe('pending'); // it waits out its window, then is skipped as sent once already
  });

  it.each([
    ['the browser first', ['browser', 'server']],
    ['the backend first', ['server', 'browser']],
  ])('a browser and a server purchase with one transaction_id reach every destination once (%s)', async (_what, order) => {
    const { impact, chase, c } = await setUp();
    for (const from of order) {
      if (from === 'browser') expect((await fromBrowser(c, [purchase('evt-b-purchase1', { clickIds: { irclickid: 'ir-2' } })])).status).toBe(200);
      else expect((await fromBackend(c, [purchase('evt-s-purchase1')])).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
    }
    await waitFor(() => impact.requests.length >= 1 && chase.requests.length >= 1, 10000, 'both vendors');
    await waitFor(async () => (await c.deliveries()).every((d) => d.state !== 'pending'), 10000, 'every delivery decided');
    expect(impact.requests).toHaveLength(1);
    expect(chase.requests).toHaveLength(1);
    const skipped = (await c.deliveries()).filter((d) => d.state === 'skipped');
    expect(skipped).toHaveLength(2);
    for (const d of skipped) expect(d.detail).toMatch(/sent once already: another event of this conversion \(purchase:T-5001\)/);
  });

  it('two events of one conversion in ONE batch (different event ids, one transaction_id) reach every destination once; the other is skipped as sent once already', async () => {
    const { impact, chase, c } = await setUp();
    // A thank-you page that reported its purchase twice, in the same request, beside another order of its own.
    const res = await fromBrowser(c, [
      purchase('evt-batch-twin-01', { clickIds: { irclickid: 'ir-twin' } }, { transaction_id: 'T-TWIN', value: 20 }),
      purchase('evt-batch-twin-02', { clickIds: { irclickid: 'ir-twin' } }, { transaction_id: 'T-TWIN', value: 20 }),
      purchase('evt-batch-solo-01', { clickIds: { irclickid: 'ir-solo' } }, { transaction_id: 'T-SOLO', value: 30 }),
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stored: 3, duplicates: 0 });
    // Every delivery decided, the other order's among them; then a moment for a late second request to show.
    const decided = await waitFor(async () => {
      const d = await c.deliveries();
      return d.length === 6 && d.every((x) => x.state !== 'pending') ? d : undefined;
    }, 10000, 'every delivery decided');
    await new Promise((r) => setTimeout(r, 1000));
    expect(impact.requests.map((r) => form(r).OrderId).sort()).toEqual(['T-SOLO', 'T-TWIN']);
    const chaseOrders = chase.requests.map((r) => (JSON.parse(r.body) as { conversion_data: { transaction_id: string } }).conversion_data.transaction_id);
    expect(chaseOrders.sort()).toEqual(['T-SOLO', 'T-TWIN']);
    expect(impact.violations).toEqual([]);
    expect(chase.violations).toEqual([]);
    // /debug: per destination, one twin delivered and the other skipped, saying why.
    const twins = decided.filter((d) => d.eventId.startsWith('evt-batch-twin'));
    for (const destination of ['impact', 'chase']) {
      const mine = twins.filter((d) => d.destination === destination);
      expect(mine.map((d) => d.state).sort()).toEqual(['delivered', 'skipped']);
      expect(mine.find((d) => d.state === 'skipped')!.detail).toBe(
        `sent once already: another event of this conversion (purchase:T-TWIN) goes to ${destination}`,
      );
    }
    expect(decided.filter((d) => d.eventId === 'evt-batch-solo-01').map((d) => d.state)).toEqual(['delivered', 'delivered']);
  });

  it('a wrong server key is a 401; a right one needs no origin and is not held to the per-address limit', async () => {
    const { c } = await setUp({ config: { limits: { perIp: { ratePerSecond: 0.01, burst: 2 } } } });
    const wrong = await fromBackend(c, [purchase('evt-wrongkey-01')], 'not-the-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'Authorization: Bearer <server key> is not one of serverKeys' });
    for (let i = 0; i < 5; i++) {
      expect((await fromBackend(c, [purchase(`evt-backend-${1000 + i}`, {}, { transaction_id: `T-${i}` })])).status).toBe(200);
    }
    const stored = (await c.events()).find((e) => e.id === 'evt-backend-1000')!;
    expect(stored.context.verified).toBe(true);
    expect(c.output).not.toContain(SERVER_KEY);
  });
});

describe('click ids kept on the server', () => {
  it('a later event of the visitor without click ids gets them, within attributionDays only', async () => {
    const { impact, c } = await setUp({ config: { attributionDays: 30 } });
    const day = 86_400_000;
    await fromBrowser(c, [
      { id: 'evt-land-visit-1', name: 'page_view', time: Date.now() - 12 * day, anonymousId: 'v-kept', clickIds: { irclickid: 'ir-day1' } },
      { id: 'evt-land-visit-2', name: 'page_view', time: Date.now() - 40 * day, anonymousId: 'v-expired', clickIds: { irclickid: 'ir-old' } },
    ]);
    await fromBrowser(c, [
      purchase('evt-day12-00001', { anonymousId: 'v-kept' }, { transaction_id: 'T-kept' }),
      purchase('evt-day40-00001', { anonymousId: 'v-expired' }, { transaction_id: 'T-expired' }),
    ]);
    await waitFor(() => impact.requests.length >= 2, 10000, 'both purchases at impact');
    const byOrder = new Map(impact.requests.map((r) => [form(r).OrderId, form(r)]));
    expect(byOrder.get('T-kept')!.ClickId).toBe('ir-day1');
    expect(byOrder.get('T-expired')!.ClickId).toBeUndefined();
    // The stored event is as it was sent; what was attached lives in its context.
    const kept = (await c.events()).find((e) => e.id === 'evt-day12-00001')!;
    expect(kept.clickIds).toBeUndefined();
    expect(kept.context.clickIds).toEqual({ irclickid: 'ir-day1' });
  });
});

describe('the visitor cookie', () => {
  it('is set HttpOnly and SameSite=Lax with the visitor id, wins over a new tag id, and is expired when storage is denied', async () => {
    const { c } = await setUp({ config: { cookie: { maxAgeDays: 395 } } });
    const first = await fromBrowser(c, [{ id: 'evt-cookie-00001', name: 'page_view', time: Date.now(), anonymousId: 'tag-id-aaaaaaaa' }]);
    const set = first.headers.get('set-cookie')!;
    expect(set).toBe(`_tr=tag-id-aaaaaaaa; Path=/; Max-Age=${395 * 86_400}; HttpOnly; SameSite=Lax`); // no Secure on 127.0.0.1
    expect(first.headers.get('access-control-allow-credentials')).toBe('true');
    // Safari purged the tag's storage: a new tag id arrives with the cookie: the cookie's id is kept.
    const later = await fromBrowser(c, [{ id: 'evt-cookie-00002', name: 'page_view', time: Date.now(), anonymousId: 'tag-id-bbbbbbbb' }], {
      cookie: '_tr=tag-id-aaaaaaaa',
    });
    expect(later.headers.get('set-cookie')).toContain('_tr=tag-id-aaaaaaaa;');
    expect((await c.events()).find((e) => e.id === 'evt-cookie-00002')!.anonymousId).toBe('tag-id-aaaaaaaa');
    // Storage denied: no cookie, and the old one expires.
    const denied = await fromBrowser(
      c,
      [{ id: 'evt-cookie-00003', name: 'page_view', time: Date.now(), anonymousId: 'tag-id-cccccccc', consent: { ad_storage: 'denied', analytics_storage: 'denied' } }],
      { cookie: '_tr=tag-id-aaaaaaaa' },
    );
    expect(denied.headers.get('set-cookie')).toMatch(/^_tr=; Path=\/; Max-Age=0;/);
    expect((await c.events()).find((e) => e.id === 'evt-cookie-00003')!.anonymousId).toBe('tag-id-cccccccc');
  });

  it('is Secure with the configured Domain when the collector is reached by a name other than loopback', async () => {
    const { c } = await setUp({ config: { cookie: { domain: 'shop.example' } } });
    const res = await asHost(c, 'POST', { host: 'collect.shop.example', origin: ORIGIN }, pageView('evt-cookie-host01', 'tag-id-eeeeeeee'));
    expect(res.status).toBe(200);
    const parts = String(res.headers['set-cookie']).split('; ');
    expect(parts[0]).toBe('_tr=tag-id-eeeeeeee');
    expect(parts.slice(1).sort()).toEqual(['Domain=shop.example', 'HttpOnly', `Max-Age=${395 * 86_400}`, 'Path=/', 'SameSite=Lax', 'Secure'].sort());
    // The same collector reached as localhost (plain http while developing): the same cookie without Secure.
    const local = await asHost(c, 'POST', { host: `localhost:${new URL(c.url).port}`, origin: ORIGIN }, pageView('evt-cookie-host02', 'tag-id-ffffffff'));
    expect(String(local.headers['set-cookie']).split('; ')).not.toContain('Secure');
    expect(String(local.headers['set-cookie'])).toContain('Domain=shop.example');
  });

  it('gives CORS credentials to origins named in allowedOrigins and the collector\'s own, never to one that "*" lets in', async () => {
    const { c } = await setUp({ config: { allowedOrigins: ['*', 'https://shop.example'], cookie: {} } });
    const host = 'collect.shop.example';
    const cors = async (origin: string, method: 'POST' | 'OPTIONS', id: string) => {
      const res = await asHost(c, method, { host, origin }, method === 'POST' ? pageView(id, 'tag-id-gggggggg') : '');
      expect(res.status).toBe(method === 'POST' ? 200 : 204);
      expect(res.headers['access-control-allow-origin']).toBe(origin); // "*" lets it post...
      return res.headers['access-control-allow-credentials'];
    };
    // ...but a page of any other site gets no credentials, in the preflight or the answer.
    expect(await cors('https://evil.example', 'OPTIONS', '')).toBeUndefined();
    expect(await cors('https://evil.example', 'POST', 'evt-cors-star-001')).toBeUndefined();
    expect(await cors('https://shop.example', 'OPTIONS', '')).toBe('true');
    expect(await cors('https://shop.example', 'POST', 'evt-cors-star-002')).toBe('true');
    expect(await cors(`https://${host}`, 'POST', 'evt-cors-star-003')).toBe('true');
  });

  it('without the cookie setting, no cookie and no credentials in CORS', async () => {
    const { c } = await setUp();
    const res = await fromBrowser(c, [{ id: 'evt-nocookie-001', name: 'page_view', time: Date.now(), anonymousId: 'tag-id-dddddddd' }]);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
