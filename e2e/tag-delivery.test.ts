import { createServer } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../collector/src/event.js';
import { idbEvents, idbRecords, launchBrowser, MARKERS, open, Site, tagReady, watchErrors } from './browser.js';
import { Collector, waitFor } from './collector.js';
import { FlakyProxy } from './proxy.js';

// Issue 10: an event leaves the browser only when the collector has it. The site's tag talks to
// the real collector through a proxy that can answer 503 or drop connections.
let site: Site;
let collector: Collector;
let proxy: FlakyProxy;
let browser: Browser;

beforeAll(async () => {
  site = await Site.start();
  collector = await Collector.start({ config: { allowedOrigins: [site.origin], keepQueryParams: MARKERS } });
  proxy = await FlakyProxy.start(collector.url);
  site.collectorUrl = proxy.url;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await collector?.stop();
  await site?.close();
});

const ofPage = async (marker: string, c = collector): Promise<StoredEvent[]> =>
  (await c.events()).filter((e) => e.url?.includes(marker));
const duplicates = (c = collector) => c.metric('tagrelay_collect_events_total', { result: 'duplicate' });

/** A port free a moment ago, for a collector that must come back where it was. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('tag: an event leaves the browser only when the collector has it', () => {
  it.each([
    ['503', 'the collector answers 503 for a while, then 200'],
    ['drop', 'connections are dropped, then restored'],
  ] as const)('%s: %s: every event arrives, once, the page open all along', async (mode, _label) => {
    const marker = `outage=${mode}`;
    const before = await duplicates();
    const failed = proxy.failed;
    proxy.mode = mode;
    try {
      const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`);
      await tagReady(page);
      await page.evaluate(() => {
        for (let i = 0; i < 5; i++) window.track('purchase', { transaction_id: `T-${i}`, value: i, currency: 'EUR' });
      });
      await waitFor(() => proxy.failed >= failed + 3, 20000, 'three failed tries');
      expect(await ofPage(marker)).toEqual([]);
      expect((await idbEvents(page)).map((e) => e.name).sort()).toEqual(['page_view', ...Array(5).fill('purchase')]);
      proxy.mode = 'pass';
      await waitFor(async () => (await ofPage(marker)).length >= 6, 30000, 'the six events');
      await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'IndexedDB emptied');
      const got = await ofPage(marker);
      expect(got.map((e) => e.properties?.transaction_id ?? e.name).sort()).toEqual(['T-0', 'T-1', 'T-2', 'T-3', 'T-4', 'page_view']);
      // the page stays open: no event reached the collector twice
      for (const e of got) expect(proxy.forwarded.get(e.id)).toBe(1);
      expect(await duplicates()).toBe(before);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      proxy.mode = 'pass';
    }
  });

  it('the collector down when the page closes: the events arrive with the next page', async () => {
    const own = await Collector.start({
      config: { allowedOrigins: [site.origin], keepQueryParams: MARKERS, port: await freePort() },
    });
    site.collectorUrl = own.url;
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${site.url}/tag-basic.html?down=0`);
      await tagReady(page);
      const inspector = await context.newPage(); // same origin, no tag
      await inspector.goto(`${site.url}/tag-blank.html`);
      await waitFor(async () => (await idbEvents(inspector)).length === 0, 5000, 'page_view sent');
      await own.kill();
      await page.evaluate(() => {
        for (let i = 0; i < 3; i++) window.track('generate_lead', { i });
      });
      await waitFor(async () => (await idbEvents(inspector)).length === 3, 5000, 'three events in IndexedDB');
      await page.close(); // its beacon finds nobody
      // still there, marked as sent without an answer
      await waitFor(async () => (await idbRecords(inspector)).every((r) => r.s), 5000, 'marked as sent');
      expect((await idbRecords(inspector)).map((r) => r.e.name)).toEqual(Array(3).fill('generate_lead'));
      await own.restart();
      expect(await ofPage('down=0', own)).toHaveLength(1); // the page_view only
      const next = await context.newPage();
      errors.push(...watchErrors(next));
      await next.goto(`${site.url}/tag-basic.html?down=1`);
      await waitFor(async () => (await ofPage('down=0', own)).length >= 4, 10000, 'the three events');
      expect((await ofPage('down=0', own)).map((e) => e.properties?.i ?? e.name).sort()).toEqual([0, 1, 2, 'page_view']);
      await waitFor(async () => (await idbEvents(inspector)).length === 0, 5000, 'IndexedDB emptied');
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      site.collectorUrl = proxy.url;
      await own.stop();
    }
  });

  it('200 events of ~600 bytes tracked and the page closed at once: none lost, the rest with the next page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${site.url}/tag-basic.html?burst=600`);
    await tagReady(page);
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'page_view sent');
    await page.evaluate(() => {
      const pad = 'x'.repeat(380);
      for (let i = 0; i < 200; i++)
        window.track('add_to_cart', { i, currency: 'EUR', value: 19.99, item_id: `SKU-${i}`, pad });
    });
    await page.close(); // 120 KB: more than browsers let leave at unload
    const inspector = await context.newPage();
    await inspector.goto(`${site.url}/tag-blank.html`);
    // every event is in IndexedDB, or already at the collector
    const accounted = async () => {
      const kept = (await idbRecords(inspector)).map((r) => r.e.properties?.i);
      const stored = (await ofPage('burst=600')).map((e) => e.properties?.i);
      return new Set([...kept, ...stored].filter((i) => i !== undefined)).size;
    };
    await waitFor(async () => (await accounted()) === 200, 5000, 'all 200 in IndexedDB or at the collector');
    const next = await context.newPage();
    errors.push(...watchErrors(next));
    await next.goto(`${site.url}/tag-basic.html?burst=600-next`);
    await waitFor(
      async () => new Set((await ofPage('burst=600')).map((e) => e.properties?.i)).size >= 201,
      20000,
      'all 200 add_to_cart',
    );
    const got = (await ofPage('burst=600')).filter((e) => e.name === 'add_to_cart');
    expect(new Set(got.map((e) => e.properties!.i)).size).toBe(200);
    expect(got).toHaveLength(200); // the collector stored each id once
    const count = await collector.metric('tagrelay_collect_body_bytes_count');
    expect(await collector.metric('tagrelay_collect_body_bytes_bucket', { le: '61440' })).toBe(count);
    await waitFor(async () => (await idbEvents(inspector)).length === 0, 10000, 'IndexedDB emptied');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('two tabs during a collector outage: every event arrives, none twice', async () => {
    const before = await duplicates();
    const failed = proxy.failed;
    proxy.mode = '503';
    try {
      const context = await browser.newContext();
      const tabs = await Promise.all([0, 1].map(() => context.newPage()));
      const errors = tabs.flatMap((t) => watchErrors(t));
      await Promise.all(tabs.map((t, i) => t.goto(`${site.url}/tag-basic.html?outage=tabs-${i}`)));
      await Promise.all(tabs.map((t) => tagReady(t)));
      await Promise.all(
        tabs.map((t) =>
          t.evaluate(() => {
            for (let i = 0; i < 20; i++) window.track('view_item', { i });
          }),
        ),
      );
      await waitFor(() => proxy.failed >= failed + 4, 20000, 'failed tries from both tabs');
      proxy.mode = 'pass';
      await waitFor(async () => (await ofPage('outage=tabs-')).length >= 42, 30000, '40 view_item and 2 page_view');
      await new Promise((r) => setTimeout(r, 500));
      const got = await ofPage('outage=tabs-');
      expect(got.filter((e) => e.name === 'view_item')).toHaveLength(40);
      for (const e of got) expect(proxy.forwarded.get(e.id)).toBe(1);
      expect(await duplicates()).toBe(before);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      proxy.mode = 'pass';
    }
  });

  it.each([401, 404, 405, 408, 429])('an answer %s keeps the events: they are tried again and arrive once the collector takes them', async (status) => {
    const marker = `outage=answer-${status}`;
    const failed = proxy.failed;
    proxy.answer = { status };
    proxy.mode = 'answer';
    try {
      const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`);
      await tagReady(page);
      await page.evaluate(() => window.track('purchase', { transaction_id: 'T-kept', value: 1, currency: 'EUR' }));
      await waitFor(() => proxy.failed >= failed + 2, 15000, 'two answered tries');
      expect((await idbEvents(page)).map((e) => e.name).sort()).toEqual(['page_view', 'purchase']);
      expect(await ofPage(marker)).toEqual([]);
      proxy.mode = 'pass';
      await waitFor(async () => (await ofPage(marker)).length >= 2, 20000, 'both events');
      await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'IndexedDB emptied');
      expect((await ofPage(marker)).map((e) => e.name).sort()).toEqual(['page_view', 'purchase']);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      proxy.mode = 'pass';
    }
  });

  it("waits as long as the collector's Retry-After asks, read through Access-Control-Expose-Headers", async () => {
    const marker = 'outage=retry-after';
    const tries = () => proxy.failures.filter((f) => f.body.includes(marker)).map((f) => f.at);
    // Without it the first retry comes 0.5 to 1.5 s after the first failure.
    proxy.answer = { status: 429, retryAfter: '4' };
    proxy.mode = 'answer';
    try {
      const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`);
      await tagReady(page);
      await waitFor(() => tries().length >= 2, 20000, 'two answered tries');
      const [first, second] = tries();
      expect(second! - first!).toBeGreaterThanOrEqual(3900);
      proxy.mode = 'pass';
      await waitFor(async () => (await ofPage(marker)).length >= 1, 20000, 'the page view');
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      proxy.mode = 'pass';
    }
  });

  it('back online, the events go at once, not after the backoff grown while offline', async () => {
    const marker = 'outage=online';
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`);
    const failures: number[] = [];
    page.on('requestfailed', (r) => r.url().endsWith('/collect') && failures.push(Date.now()));
    await tagReady(page);
    await waitFor(async () => (await ofPage(marker)).length >= 1, 5000, 'page_view sent');
    await context.setOffline(true);
    await page.evaluate(() => window.track('search', { search_term: 'anvil' }));
    // Five failed tries: the next is due 8 s or more after the last (1 s doubling, jitter 0.5 to 1.5).
    await waitFor(() => failures.length >= 5, 40000, 'five tries that failed offline');
    expect(await ofPage(marker, collector).then((l) => l.filter((e) => e.name === 'search'))).toEqual([]);
    const online = Date.now();
    await context.setOffline(false);
    await waitFor(async () => (await ofPage(marker)).some((e) => e.name === 'search'), 10000, 'search after online');
    expect(Date.now() - online).toBeLessThan(4000);
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it('without Web Locks (Safari before 15.4): events go, and what a closed tab left is sent by the next page', async () => {
    const marker = 'outage=nolocks';
    const noLocks = (ctx: import('playwright-core').BrowserContext) =>
      ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }));
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?${marker}`, noLocks);
    expect(await page.evaluate(() => navigator.locks)).toBeUndefined();
    await tagReady(page);
    await waitFor(async () => (await ofPage(marker)).length >= 1, 5000, 'the page view');
    // The collector away when the page closes: its purchase waits in IndexedDB for the next page.
    proxy.mode = 'drop';
    try {
      await page.evaluate(() => window.track('purchase', { transaction_id: 'T-nolocks', value: 1, currency: 'EUR' }));
      const tries = () => proxy.failures.filter((f) => f.body.includes('T-nolocks')).length;
      await waitFor(() => tries() >= 1, 5000, 'a failed try');
      await page.close({ runBeforeUnload: true });
      await waitFor(() => tries() >= 2, 5000, "the closing page's beacon, dropped too");
    } finally {
      proxy.mode = 'pass';
    }
    const next = await context.newPage();
    await next.goto(`${site.url}/tag-basic.html?${marker}-next`);
    await waitFor(async () => (await ofPage(marker)).some((e) => e.name === 'purchase'), 10000, 'the purchase, sent by the next page');
    expect((await ofPage(marker)).filter((e) => e.name === 'purchase')).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('refused events are final and shown in debug mode: an invalid event, a batch refused as a whole', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-basic.html?refusals=1&tagrelay_debug=1`);
    await tagReady(page);
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'page_view sent');
    // a clock past 2100: the collector lists this event in `rejected` and stores its neighbour
    await page.evaluate(() => {
      const now = Date.now;
      Date.now = () => 5e12;
      window.track('view_item');
      Date.now = now;
      window.track('sign_up');
    });
    await waitFor(async () => (await ofPage('refusals=1')).some((e) => e.name === 'sign_up'), 5000, 'sign_up');
    await waitFor(() => log.some((l) => /dropped invalid 1/.test(l)), 5000, 'the invalid event shown');
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'both gone from IndexedDB');
    // nested deeper than the collector allows: the whole batch is refused (400), for good
    await page.evaluate(() => {
      let deep: Record<string, unknown> = { end: 1 };
      for (let i = 0; i < 10; i++) deep = { deep };
      window.track('search', deep);
    });
    await waitFor(() => log.some((l) => /dropped refused 2 400/.test(l)), 5000, 'the refused batch shown');
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'gone from IndexedDB');
    expect((await ofPage('refusals=1')).map((e) => e.name).sort()).toEqual(['page_view', 'sign_up']);
    expect(errors).toEqual([]);
    await context.close();
  });
});
