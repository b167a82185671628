import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../collector/src/event.js';
import { open, Site, tagReady, until, startShop, stopShop } from './browser.js';
import { Collector, waitFor } from './collector.js';

let site: Site;
let collector: Collector;
let browser: Browser;

beforeAll(async () => ({ site, collector, browser } = await startShop()));
afterAll(() => stopShop({ site, collector, browser }));

const DAY = 864e5;
const ofPage = async (marker: string, name?: string): Promise<StoredEvent[]> =>
  (await collector.events()).filter((e) => e.url?.includes(marker) && (!name || e.name === name));
const one = async (marker: string, name: string): Promise<StoredEvent> =>
  (await until(() => ofPage(marker, name), `${name} of ${marker}`))[0]!;

describe('tag: click ids', () => {
  it.each([
    ['click_id', 'tag-basic', 30],
    ['clickid', 'tag-basic', 30],
    ['irclickid', 'tag-basic', 30],
    ['im_ref', 'tag-basic', 30],
    ['ndclid', 'tag-basic', 30],
    ['gclid', 'tag-clicks', 7], // data-click-params, data-attribution-days="7"
    ['fbclid', 'tag-clicks', 7],
  ])(
    '%s (%s.html): captured on landing, attached on a later page and a later day, gone after %i days',
    async (param, fixture, days) => {
      const start = Date.now();
      const { context, page, errors } = await open(
        browser,
        `${site.url}/${fixture}.html?${param}=v-${param}&m=${param}-0`,
        (ctx) => ctx.clock.install({ time: start }),
      );
      await tagReady(page);
      expect((await one(`m=${param}-0`, 'page_view')).clickIds).toEqual({ [param]: `v-${param}` });

      // a later page, the same day, no parameter in its URL
      await page.goto(`${site.url}/${fixture}.html?m=${param}-1`);
      await tagReady(page);
      await page.evaluate(() => window.track('generate_lead'));
      expect((await one(`m=${param}-1`, 'generate_lead')).clickIds).toEqual({ [param]: `v-${param}` });

      // a later day, still inside the window
      await context.clock.setSystemTime(start + (days - 1) * DAY);
      await page.goto(`${site.url}/${fixture}.html?m=${param}-2`);
      await tagReady(page);
      await page.evaluate(() => window.track('purchase', { transaction_id: 'T', value: 1, currency: 'EUR' }));
      const later = await one(`m=${param}-2`, 'purchase');
      expect(later.clickIds).toEqual({ [param]: `v-${param}` });
      expect(later.time).toBeGreaterThanOrEqual(start + (days - 1) * DAY);

      // past the window: gone
      await context.clock.setSystemTime(start + (days + 1) * DAY);
      await page.goto(`${site.url}/${fixture}.html?m=${param}-3`);
      await tagReady(page);
      await page.evaluate(() => window.track('purchase', { transaction_id: 'T2', value: 1, currency: 'EUR' }));
      expect((await one(`m=${param}-3`, 'purchase')).clickIds).toBeUndefined();
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it('a new value replaces the old one and restarts its window; other parameters stay', async () => {
    const start = Date.now();
    const { context, page, errors } = await open(
      browser,
      `${site.url}/tag-basic.html?clickid=old&irclickid=ir-1&m=replace-0`,
      (ctx) => ctx.clock.install({ time: start }),
    );
    await tagReady(page);
    // day 20: a new clickid
    await context.clock.setSystemTime(start + 20 * DAY);
    await page.goto(`${site.url}/tag-basic.html?clickid=new&m=replace-1`);
    expect((await one('m=replace-1', 'page_view')).clickIds).toEqual({ clickid: 'new', irclickid: 'ir-1' });
    // day 35: past the 30 days of the first landing, inside those of the new clickid
    await context.clock.setSystemTime(start + 35 * DAY);
    await page.goto(`${site.url}/tag-basic.html?m=replace-2`);
    await tagReady(page);
    expect((await one('m=replace-2', 'page_view')).clickIds).toEqual({ clickid: 'new' });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('the visitor id persists across pages', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?m=visitor-0`);
    await tagReady(page);
    await page.goto(`${site.url}/tag-basic.html?m=visitor-1`);
    const [a, b] = [await one('m=visitor-0', 'page_view'), await one('m=visitor-1', 'page_view')];
    expect(a.anonymousId).toBeTruthy();
    expect(b.anonymousId).toBe(a.anonymousId);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('tag: the visitor\'s memory', () => {
  it('a visitor new to the tag: the memory is kept in IndexedDB, localStorage is never touched', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?clickid=c-new&m=mem-0`, (ctx) =>
      ctx.addInitScript(() => {
        const real = Object.getOwnPropertyDescriptor(window, 'localStorage')!;
        Object.defineProperty(window, 'localStorage', {
          get() {
            (window as unknown as { lsReads: number }).lsReads = ((window as unknown as { lsReads?: number }).lsReads ?? 0) + 1;
            return real.get!.call(window);
          },
        });
      }),
    );
    await tagReady(page);
    const first = await one('m=mem-0', 'page_view');
    const reads = () => page.evaluate(() => (window as unknown as { lsReads?: number }).lsReads ?? 0);
    expect(await reads()).toBe(0);
    await page.goto(`${site.url}/tag-basic.html?m=mem-1`);
    await tagReady(page);
    const second = await one('m=mem-1', 'page_view');
    expect(second.anonymousId).toBe(first.anonymousId);
    expect(second.clickIds).toEqual({ clickid: 'c-new' });
    expect(await reads()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a visitor of tag 0.1.0 (memory in localStorage, its database already there) keeps its id and click ids', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-blank.html`);
    const captured = Date.now() - 3 * DAY;
    // what 0.1.0 left: the visitor's memory in localStorage, an empty `events` store in IndexedDB
    await page.evaluate(async (captured) => {
      localStorage.tagrelay = JSON.stringify({ v: 'visitor-of-0.1.0', c: { irclickid: ['ir-before', captured] } });
      await new Promise((resolve, reject) => {
        const req = indexedDB.open('tagrelay');
        req.onupgradeneeded = () => req.result.createObjectStore('events');
        req.onsuccess = () => (req.result.close(), resolve(null));
        req.onerror = () => reject(req.error);
      });
    }, captured);
    await page.goto(`${site.url}/tag-basic.html?m=mem-old-0`);
    await tagReady(page);
    const upgraded = await one('m=mem-old-0', 'page_view');
    expect(upgraded.anonymousId).toBe('visitor-of-0.1.0');
    expect(upgraded.clickIds).toEqual({ irclickid: 'ir-before' });
    // from now on IndexedDB holds it: localStorage can go
    await page.evaluate(() => localStorage.clear());
    await page.goto(`${site.url}/tag-basic.html?m=mem-old-1`);
    await tagReady(page);
    const later = await one('m=mem-old-1', 'page_view');
    expect(later.anonymousId).toBe('visitor-of-0.1.0');
    expect(later.clickIds).toEqual({ irclickid: 'ir-before' });
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('tag: page views', () => {
  it('page_view on load and on SPA navigations to a new path, never twice in a row for one path', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-spa.html?spa=1`);
    await tagReady(page);
    await page.evaluate(() => {
      history.pushState({}, '', '/tag-spa.html/products?spa=1'); // new page
      history.pushState({}, '', '/tag-spa.html/products?spa=1'); // same URL: no page_view
      history.pushState({}, '', '/tag-spa.html/products?spa=1&page=2'); // same path, another query: none
      history.replaceState({ s: 1 }, '', '/tag-spa.html/products?spa=1&sort=price'); // same path: none
      history.replaceState({}, '', '/tag-spa.html/cart?spa=1'); // replaceState to a new path
      history.pushState({}, '', '/tag-spa.html/cart?spa=1#reviews'); // only the fragment: none
      history.pushState({}, '', '/tag-spa.html/checkout?spa=1');
    });
    await page.goBack(); // popstate back to /cart#reviews: a new path again
    await waitFor(async () => (await ofPage('spa=1', 'page_view')).length >= 5, 5000, '5 page views');
    await page.waitForTimeout(400);
    // in the order they were stored (the collector lists the newest first): the tag sends in the order it tracked
    const paths = (await ofPage('spa=1', 'page_view')).reverse().map((e) => new URL(e.url!).pathname);
    expect(paths).toEqual([
      '/tag-spa.html',
      '/tag-spa.html/products',
      '/tag-spa.html/cart',
      '/tag-spa.html/checkout',
      '/tag-spa.html/cart',
    ]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('data-page-views="off": no automatic page_view, on load or on navigation', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-no-page-views.html?nopv=1`);
    await tagReady(page);
    await page.evaluate(() => {
      history.pushState({}, '', '/tag-no-page-views.html/next?nopv=1');
      window.track('sign_up');
    });
    await one('nopv=1', 'sign_up');
    expect((await ofPage('nopv=1')).map((e) => e.name)).toEqual(['sign_up']);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('tag: GA4 dataLayer bridge', () => {
  it('data-datalayer: GA4 ecommerce pushes, before and after the tag loaded, are tracked', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-datalayer.html?dl=1`);
    await tagReady(page);
    const first = await one('dl=1', 'purchase');
    expect(first.properties).toEqual({
      transaction_id: 'DL-1',
      value: 42.5,
      currency: 'USD',
      items: [{ item_id: 'SKU1', item_name: 'Anvil', price: 21.25, quantity: 2 }],
    });
    await page.evaluate(() => {
      const dl = (window as unknown as { dataLayer: unknown[] }).dataLayer;
      dl.push({ ecommerce: null });
      dl.push({ event: 'add_to_cart', ecommerce: { currency: 'USD', value: 10, items: [{ item_id: 'SKU2' }] } });
      dl.push({ event: 'gtm.click' }); // not an ecommerce event
    });
    expect((await one('dl=1', 'add_to_cart')).properties).toEqual({
      currency: 'USD',
      value: 10,
      items: [{ item_id: 'SKU2' }],
    });
    await page.waitForTimeout(300);
    expect((await ofPage('dl=1')).map((e) => e.name).sort()).toEqual(['add_to_cart', 'purchase']);
    expect(errors).toEqual([]);
    await context.close();
  });
});
