// Attribution that lasts, in real Chromium: the visitor cookie across a storage purge, the site's own
// event ids, first-party cookies copied into events, and page URLs without their fragment.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, MARKERS, open, Site, TAG_EVENT_ID, tagReady, watchErrors } from './browser.js';
import { Collector, waitFor } from './collector.js';
import { startImpact } from './vendors/impact.js';
import type { VendorServer } from './vendors/server.js';

const DAY = 86_400_000;
let site: Site;
let collector: Collector;
let impact: VendorServer;
let browser: Browser;

beforeAll(async () => {
  site = await Site.start();
  impact = await startImpact('IRtagattr', 'impact-tag-token', '1000');
  collector = await Collector.start({
    config: {
      allowedOrigins: [site.origin],
      keepQueryParams: MARKERS,
      cookie: { maxAgeDays: 395 },
      attributionDays: 30,
      destinations: {
        impact: {
          accountSid: 'IRtagattr',
          authToken: 'impact-tag-token',
          campaignId: '1000',
          baseUrl: impact.url,
          events: { purchase: { eventTypeId: '1' } },
        },
      },
    },
  });
  site.collectorUrl = collector.url;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await collector?.stop();
  await impact?.close();
  await site?.close();
});

describe('tag: attribution that lasts', () => {
  it('a visit on day 1 with ?irclickid=, storage cleared, a purchase on day 12 still reaches impact with the click id', async () => {
    const start = Date.now();
    const context = await browser.newContext();
    await context.clock.install({ time: start });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${site.url}/tag-cookie.html?m=day1&irclickid=ir-day-one`);
    await tagReady(page);
    const landing = await waitFor(async () => (await collector.events()).find((e) => e.url?.includes('m=day1')), 10000, 'the landing page_view');
    const visitor = landing.anonymousId!;
    // The collector set its cookie with the visitor's id.
    const cookies = await context.cookies(collector.url);
    expect(cookies.find((c) => c.name === '_tr')).toMatchObject({ value: visitor, httpOnly: true, sameSite: 'Lax' });

    // Safari's purge: everything a script wrote is gone (localStorage, IndexedDB); the HttpOnly cookie is not.
    await page.evaluate(async () => {
      localStorage.clear();
      await new Promise((resolve) => {
        const req = indexedDB.deleteDatabase('tagrelay');
        req.onsuccess = req.onerror = req.onblocked = resolve;
      });
    });
    await page.close();
    await context.clock.setSystemTime(start + 12 * DAY);
    const later = await context.newPage();
    watchErrors(later);
    await later.goto(`${site.url}/tag-cookie.html?m=day12`);
    await tagReady(later);
    await later.evaluate(() => window.track('purchase', { transaction_id: 'T-DAY12', value: 30, currency: 'USD' }));

    await waitFor(() => impact.requests.some((r) => r.body.includes('T-DAY12')), 15000, 'the purchase at impact');
    const form = Object.fromEntries(new URLSearchParams(impact.requests.find((r) => r.body.includes('T-DAY12'))!.body));
    expect(form).toMatchObject({ OrderId: 'T-DAY12', ClickId: 'ir-day-one', CustomProfileId: visitor });
    // The tag had lost both its id and the click id: the cookie kept the visitor, the collector the click.
    const purchase = (await collector.events()).find((e) => e.properties?.transaction_id === 'T-DAY12')!;
    expect(purchase.clickIds).toBeUndefined();
    expect(purchase.anonymousId).toBe(visitor);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('track(name, properties, {id}) keeps the site\'s event id; data-cookies copies the named cookies; the URL leaves without its fragment', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${site.url}/tag-cookie.html?m=ids#access_token=oauth-secret-123`);
    await tagReady(page);
    await page.evaluate(() => {
      window.track('sign_up', { method: 'email' }, { id: 'site-event-0001' });
      window.track('sign_up', { method: 'sms' }, { id: 'bad id!' }); // not an id the collector takes: a random one
    });
    const signUps = await waitFor(async () => {
      const found = (await collector.events()).filter((e) => e.name === 'sign_up' && e.url?.includes('m=ids'));
      return found.length === 2 ? found : undefined;
    }, 10000, 'both sign_ups');
    const byMethod = new Map(signUps.map((e) => [e.properties!.method, e]));
    expect(byMethod.get('email')!.id).toBe('site-event-0001');
    expect(byMethod.get('sms')!.id).toMatch(TAG_EVENT_ID);
    // named cookies only (_fbp is not set), each value whole, '=' included
    expect(byMethod.get('email')!.properties!.cookies).toEqual({
      _conv_v: expect.stringContaining('exp:{100123.{v.100456'),
      session_b64: 'c2Vzc2lvbg==',
    });
    for (const e of signUps) expect(e.url).toBe(`${site.url}/tag-cookie.html?m=ids`);
    expect(JSON.stringify(await collector.events())).not.toContain('oauth-secret-123');
    expect(errors).toEqual([]);
    await context.close();
  });
  it("the debug log says when a site's event id is not kept, and which id was sent instead", async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-basic.html?m=idlog&tagrelay_debug=1`);
    await tagReady(page);
    await page.evaluate(() => window.track('sign_up', {}, { id: '1001' })); // an order number: too short to be an id
    const sent = await waitFor(async () => {
      return (await collector.events()).find((e) => e.name === 'sign_up' && e.url?.includes('m=idlog'));
    }, 10000, 'the sign_up');
    expect(sent.id).toMatch(TAG_EVENT_ID);
    expect(log).toContain(`tagrelay id 1001 is not 8-64 of A-Z a-z 0-9 _.:-, sent as ${sent.id}`);
    expect(errors).toEqual([]);
    await context.close();
  });
});
