import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../collector/src/event.js';
import { idbEvents, MARKERS, open, Site, tagReady, until, watchErrors, startShop, stopShop } from './browser.js';
import { Collector, waitFor } from './collector.js';

let site: Site;
let collector: Collector;
let browser: Browser;

beforeAll(async () => ({ site, collector, browser } = await startShop()));
afterAll(() => stopShop({ site, collector, browser }));

const ofPage = async (marker: string, name?: string, c = collector): Promise<StoredEvent[]> =>
  (await c.events()).filter((e) => e.url?.includes(marker) && (!name || e.name === name));
const duplicates = (c = collector) => c.metric('tagrelay_collect_events_total', { result: 'duplicate' });

/**
 * Runs a test against a collector of its own: a beacon from an earlier test that lands late (the
 * browser sends beacons after their page is gone) must not count as a duplicate of this one's.
 */
const withOwnCollector = async (test: (own: Collector) => Promise<void>) => {
  const own = await Collector.start({ config: { allowedOrigins: [site.origin], keepQueryParams: MARKERS } });
  const shared = site.collectorUrl;
  site.collectorUrl = own.url;
  try {
    await test(own);
  } finally {
    site.collectorUrl = shared;
    await own.stop();
  }
};

/**
 * A shop page (`?marker`) on `own`, then the network cut once its page_view was answered: what the page
 * tracks next waits in IndexedDB. (Cut while the page_view's request is in flight, the collector may store
 * it and the tag hear nothing, and send it again: a duplicate, rightly.)
 */
async function openThenOffline(own: Collector, marker: string) {
  const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`);
  await tagReady(page);
  await until(() => ofPage(marker, 'page_view', own), 'the page_view');
  await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'the page_view answered');
  await context.setOffline(true);
  return { context, page, errors };
}

describe('tag: buffer and transport', () => {
  it.each([
    [
      'indexedDB.open throws',
      () => {
        IDBFactory.prototype.open = () => {
          throw new DOMException('storage blocked', 'SecurityError');
        };
      },
    ],
    [
      'indexedDB.open fails later',
      () => {
        IDBFactory.prototype.open = function () {
          const req = {} as IDBOpenDBRequest & { onerror?: () => void };
          setTimeout(() => req.onerror?.(), 5);
          Object.defineProperty(req, 'error', { value: new DOMException('private mode', 'InvalidStateError') });
          return req;
        };
      },
    ],
    [
      // Safari 14's first open, or another tab's upgrade this one blocks: the tag waits 3 s, then goes on
      'indexedDB.open never answers',
      () => {
        IDBFactory.prototype.open = () => ({}) as IDBOpenDBRequest;
      },
    ],
    [
      'no indexedDB at all',
      () => {
        Object.defineProperty(window, 'indexedDB', { value: undefined });
      },
    ],
    [
      'localStorage blocked too',
      () => {
        Object.defineProperty(window, 'indexedDB', { value: undefined });
        Object.defineProperty(window, 'localStorage', {
          get: () => {
            throw new DOMException('denied', 'SecurityError');
          },
        });
      },
    ],
  ])('IndexedDB unavailable (%s): events go from memory, the page sees no error', async (label, breakIdb) => {
    const marker = `noidb=${encodeURIComponent(label)}`;
    const { context, page, errors } = await open(
      browser,
      `${site.url}/tag-basic.html?${marker}&clickid=c-${label.length}`,
      (ctx) => ctx.addInitScript(breakIdb),
    );
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'M-1', value: 3, currency: 'EUR' }));
    const [e] = await until(() => ofPage(marker, 'purchase'), 'purchase', 1, 5000);
    expect(e!.clickIds).toEqual({ clickid: `c-${label.length}` });
    // closing at once still sends from memory
    await page.evaluate(() => window.track('sign_up'));
    await page.close();
    await waitFor(() => ofPage(marker, 'sign_up').then((l) => l.length), 5000, 'sign_up');
    expect((await ofPage(marker, 'page_view')).length).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it.each([
    [
      'missing',
      () => {
        Object.defineProperty(Navigator.prototype, 'sendBeacon', { value: undefined });
      },
    ],
    [
      'refusing',
      () => {
        Navigator.prototype.sendBeacon = () => false;
      },
    ],
  ])(
    'sendBeacon %s: events go by fetch while the page lives; what is left at close goes with the next page',
    async (label, breakBeacon) => {
      const marker = `beacon=${label}`;
      const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`, (ctx) =>
        ctx.addInitScript(breakBeacon),
      );
      const posts: string[] = [];
      page.on(
        'request',
        (r) => r.url().endsWith('/collect') && posts.push(`${r.method()} ${r.headers()['content-type']}`),
      );
      await tagReady(page);
      await page.evaluate(() => window.track('sign_up'));
      await until(() => ofPage(marker, 'sign_up'), 'sign_up');
      // the browser's report of the request may reach this process after the collector answered
      await waitFor(async () => posts.length >= 1, 5000, 'the request seen');
      expect(posts[0]).toBe('POST text/plain;charset=UTF-8');
      // this page's requests now fail, so login cannot leave it by fetch before it closes; no beacon either
      await page.route('**/collect', (route) => route.abort());
      const seen = posts.length;
      await page.evaluate(() => window.track('login'));
      await waitFor(async () => posts.length > seen, 5000, 'the failed fetch of login');
      await page.close();
      expect(await ofPage(marker, 'login')).toEqual([]);
      const next = await context.newPage();
      errors.push(...watchErrors(next));
      await next.goto(`${site.url}/tag-basic.html?${marker}-next`);
      await until(() => ofPage(marker, 'login'), 'login');
      await tagReady(next);
      await new Promise((r) => setTimeout(r, 500));
      expect(await ofPage(marker, 'login')).toHaveLength(1); // sent by the next page, once
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it('two tabs tracking and flushing at once: every event arrives once', () =>
    withOwnCollector(async (own) => {
      const before = await duplicates(own);
      const context = await browser.newContext();
      const errors: string[] = [];
      const tabs = await Promise.all([0, 1].map(() => context.newPage()));
      for (const t of tabs) errors.push(...watchErrors(t));
      await Promise.all(tabs.map((t, i) => t.goto(`${site.url}/tag-basic.html?tabs=${i}`)));
      await Promise.all(tabs.map((t) => tagReady(t)));
      // both tabs track 40 events in the same moment, so their flushes overlap
      await Promise.all(
        tabs.map((t) =>
          t.evaluate(() => {
            for (let i = 0; i < 40; i++) window.track('view_item', { i });
          }),
        ),
      );
      await waitFor(async () => (await ofPage('tabs=', 'view_item', own)).length >= 80, 8000, '80 view_item');
      await waitFor(async () => (await idbEvents(tabs[0]!)).length === 0, 5000, 'every event answered');
      // while both tabs live, neither sends the other's events
      expect(await duplicates(own)).toBe(before);
      // then both track and close at once. A tab still open may adopt what the other's beacon took
      // (a beacon hears no answer): sent twice then, and stored once.
      await Promise.all(tabs.map((t) => t.evaluate(() => window.track('add_to_cart'))));
      await Promise.all(tabs.map((t) => t.close()));
      await waitFor(async () => (await ofPage('tabs=', 'add_to_cart', own)).length >= 2, 5000, 'add_to_cart from both');
      await new Promise((r) => setTimeout(r, 500));
      const all = await ofPage('tabs=', undefined, own);
      expect(all.filter((e) => e.name === 'view_item')).toHaveLength(80);
      expect(all.filter((e) => e.name === 'add_to_cart')).toHaveLength(2);
      expect(all.filter((e) => e.name === 'page_view')).toHaveLength(2);
      expect(errors).toEqual([]);
      await context.close();
    }));

  it('events left by a closed tab are adopted by exactly one of two tabs opening at once', () =>
    withOwnCollector(async (own) => {
      const before = await duplicates(own);
      const { context, page: first, errors } = await openThenOffline(own, 'orphans=0');
      await first.evaluate(() => {
        for (let i = 0; i < 25; i++) window.track('view_item_list', { i });
      });
      await waitFor(async () => (await idbEvents(first)).length === 25, 5000, '25 events in IndexedDB');
      await first.close(); // offline: the events stay behind, their tab gone
      await context.setOffline(false);
      const tabs = await Promise.all([1, 2].map(() => context.newPage()));
      for (const t of tabs) errors.push(...watchErrors(t));
      await Promise.all(tabs.map((t, i) => t.goto(`${site.url}/tag-basic.html?orphans=${i + 1}`)));
      await waitFor(
        async () => (await ofPage('orphans=0', 'view_item_list', own)).length >= 25,
        8000,
        'the 25 orphans',
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(await ofPage('orphans=0', 'view_item_list', own)).toHaveLength(25);
      expect(await duplicates(own)).toBe(before);
      await waitFor(async () => (await idbEvents(tabs[0]!)).length === 0, 5000, 'IndexedDB emptied');
      expect(errors).toEqual([]);
      await context.close();
    }));

  it('offline, a tab keeps its newest 1,000 events and drops the oldest; back online, those 1,000 arrive', () =>
    withOwnCollector(async (own) => {
      const { context, page, errors } = await openThenOffline(own, 'full=1');
      await page.evaluate(() => {
        for (let i = 0; i < 1010; i++) window.track('view_item', { i });
      });
      // the first flush (200 ms later) finds 1,010 and drops the 10 oldest, from IndexedDB too
      await waitFor(async () => (await idbEvents(page)).length === 1000, 8000, '1,000 events kept');
      await context.setOffline(false);
      await until(() => ofPage('full=1', 'view_item', own), 'the 1,000 kept', 1000, 20000);
      await new Promise((r) => setTimeout(r, 500));
      const kept = (await ofPage('full=1', 'view_item', own)).map((e) => e.properties!.i as number);
      expect(kept.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, k) => k + 10));
      expect(await own.metric('tagrelay_collect_events_total', { result: 'stored' })).toBe(1001); // and the page_view
      expect(errors).toEqual([]);
      await context.close();
    }));

  it('an event a beacon took is sent once more by a later page for 7 days, then dropped unsent', () =>
    withOwnCollector(async (own) => {
      const { context, page: first, errors } = await openThenOffline(own, 'unconfirmed=0');
      await first.evaluate(() => {
        window.track('view_item', { age: 'six days' });
        window.track('view_item', { age: 'eight days' });
      });
      await waitFor(async () => (await idbEvents(first)).length === 2, 5000, '2 events in IndexedDB');
      await first.close(); // offline: no beacon; the events stay behind, their tab gone
      await context.setOffline(false);
      // a page without the tag marks them as a beacon's, sent six and eight days ago
      const inspector = await context.newPage();
      await inspector.goto(`${site.url}/tag-blank.html`);
      await inspector.evaluate(
        () =>
          new Promise<void>((resolve, reject) => {
            const req = indexedDB.open('tagrelay');
            req.onsuccess = () => {
              const store = req.result.transaction('events', 'readwrite').objectStore('events');
              const all = store.getAll();
              all.onsuccess = () => {
                for (const rec of all.result as { e?: { id: string; properties: { age: string } }; s?: number }[]) {
                  if (!rec.e) continue;
                  rec.s = Date.now() - (rec.e.properties.age === 'six days' ? 6 : 8) * 864e5;
                  store.put(rec, rec.e.id);
                }
                store.transaction.oncomplete = () => resolve();
              };
            };
            req.onerror = () => reject(req.error);
          }),
      );
      const next = await context.newPage();
      errors.push(...watchErrors(next));
      await next.goto(`${site.url}/tag-basic.html?unconfirmed=1`);
      await until(() => ofPage('unconfirmed=0', 'view_item', own), 'the six-day-old event');
      await waitFor(async () => (await idbEvents(next)).length === 0, 5000, 'IndexedDB emptied');
      await new Promise((r) => setTimeout(r, 500));
      expect((await ofPage('unconfirmed=0', 'view_item', own)).map((e) => e.properties!.age)).toEqual(['six days']);
      expect(errors).toEqual([]);
      await context.close();
    }));

  it('200 events tracked in a burst and the page closed at once: all arrive, no request over 60 KB', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?burst=1`);
    await tagReady(page);
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'page_view sent');
    const before = await collector.metric('tagrelay_collect_body_bytes_count');
    // ~300 bytes an event, 200 of them: one beacon within the 64 KB browsers let leave at once (a bigger burst
    // closed at once leaves its remainder in IndexedDB for the next page: tag-delivery.test.ts)
    await page.evaluate(() => {
      for (let i = 0; i < 200; i++)
        window.track('add_to_cart', { i, currency: 'EUR', value: 19.99, item_id: `SKU-${i}` });
    });
    await page.close();
    await waitFor(async () => (await ofPage('burst=1', 'add_to_cart')).length >= 200, 8000, '200 add_to_cart');
    const got = await ofPage('burst=1', 'add_to_cart');
    expect(new Set(got.map((e) => e.properties!.i)).size).toBe(200);
    const count = await collector.metric('tagrelay_collect_body_bytes_count');
    // the burst in one beacon (60 KB): with event ids in decimal it took two, and the browser could refuse the second
    expect(count - before).toBe(1);
    expect(await collector.metric('tagrelay_collect_body_bytes_bucket', { le: '61440' })).toBe(count);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('offline then online: events wait, then go when the browser is back online', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?flaky=1`);
    const failures: string[] = [];
    page.on('requestfailed', (r) => r.url().endsWith('/collect') && failures.push(r.failure()?.errorText ?? ''));
    await tagReady(page);
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'page_view sent');
    await context.setOffline(true);
    await page.evaluate(() => window.track('search', { search_term: 'anvil' }));
    await waitFor(() => failures.length, 5000, 'a try that failed offline');
    expect((await idbEvents(page)).map((e) => e.name)).toEqual(['search']);
    expect(await ofPage('flaky=1', 'search')).toEqual([]);
    await context.setOffline(false);
    await waitFor(() => ofPage('flaky=1', 'search').then((l) => l.length), 5000, 'search after online');
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'IndexedDB emptied');
    expect(errors).toEqual([]);
    await context.close();
  });
});
