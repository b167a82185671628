import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, open, Site } from './browser.js';
import { Collector, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import type { VendorServer } from './vendors/server.js';

// Issue 2, end to end: a landing page on one origin, the tag and the collector on another, Chase local.
const KEY = 'chase-e2e-key-7f3a';
let site: Site;
let collector: Collector;
let chase: VendorServer;
let browser: Browser;

beforeAll(async () => {
  site = await Site.start();
  chase = await startChase(KEY);
  collector = await Collector.start({
    config: {
      allowedOrigins: [site.origin],
      destinations: { chase: { apiKey: '${CHASE_API_KEY}', baseUrl: chase.url, events: { sign_up: 'sign-up' } } },
    },
    env: { CHASE_API_KEY: KEY },
  });
  site.collectorUrl = collector.url;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await collector?.stop();
  await chase?.close();
  await site?.close();
});

describe('foundation: a landing page to a vendor', () => {
  it('a sign_up tracked with ?clickid= and the page closed at once reaches Chase exactly once, with the key', async () => {
    expect(new URL(site.url).port).not.toBe(new URL(collector.url).port); // two origins
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?clickid=abc123`);
    // Called as a site would, possibly before the tag has loaded; then the tab is closed at once.
    await page.evaluate(() => window.track('sign_up', { user_data: { email: ' Ann@Example.com ' } }));
    await page.close({ runBeforeUnload: true });
    const request = await waitFor(() => chase.requests[0], 10000, 'Chase to receive the sign_up');
    expect(request.headers['x-api-key']).toBe(KEY);
    expect(request.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request.body);
    expect(body).toEqual({ email: 'Ann@Example.com', conversion_type: 'sign-up', conversion_data: { event_id: expect.any(String) } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(chase.requests).toHaveLength(1);
    expect(chase.violations).toEqual([]);
    // The page view may be stored after the sign_up (the closing page sends what it holds in any order).
    const event = (await collector.events()).find((e) => e.name === 'sign_up');
    expect(event!.clickIds).toEqual({ clickid: 'abc123' });
    expect(body.conversion_data.event_id).toBe(event!.id); // Chase can deduplicate by it
    expect(errors).toEqual([]);
    await context.close();
  });
});
