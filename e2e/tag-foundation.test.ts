import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idbEvents, open, Site, TAG_EVENT_ID, TAG_RANDOM_ID, tagReady, until, startShop, stopShop, watchErrors } from './browser.js';
import { Collector, waitFor } from './collector.js';

// Issue 2, the tag's side: a page on one origin, the tag and /collect on another.
let site: Site;
let collector: Collector;
let browser: Browser;

beforeAll(async () => ({ site, collector, browser } = await startShop()));
afterAll(() => stopShop({ site, collector, browser }));

const named = async (name: string) => (await collector.events()).filter((e) => e.name === name);

describe('tag: foundation', () => {
  it('a sign_up tracked on a landing page with ?clickid= and the page closed at once reaches the collector', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?clickid=abc123`);
    await tagReady(page);
    // (no user_data here: a collector keeps no personal data of events no destination takes)
    await page.evaluate(() => window.track('sign_up', { method: 'email', plan: ' Pro ' }));
    await page.close();
    const [e] = await until(() => named('sign_up'), 'sign_up at the collector', 1, 5000);
    expect(e!.clickIds).toEqual({ clickid: 'abc123' });
    expect(e!.properties).toEqual({ method: 'email', plan: ' Pro ' });
    expect(e!.url).toBe(`${site.url}/tag-basic.html?clickid=abc123`);
    expect(e!.id).toMatch(/^[A-Za-z0-9_.:-]{8,64}$/);
    // The tag's own id sorts by when the event was tracked: its time in ms in base 36, then 128 random bits.
    expect(e!.id).toMatch(TAG_EVENT_ID);
    expect(e!.id.slice(0, 8)).toBe(e!.time.toString(36));
    // The visitor's id is random bits alone: it says nothing of when the visitor came.
    expect(e!.anonymousId).toMatch(TAG_RANDOM_ID);
    expect(e!.consent).toEqual({ gpc: false });
    expect(errors).toEqual([]);
    await context.close();
  });

  // Headless Chromium keeps every page visible (bringToFront, a minimised window and a frozen page change
  // nothing): `hidden` is the page's own visibilitychange, with document.hidden true, as a tab switch fires it.
  it.each(['closed', 'hidden'])(
    'a call queued before the tag could read IndexedDB, the page then %s, arrives with its click id and the page_view',
    async (how) => {
      const context = await browser.newContext();
      // Another page of the site holds the database open and asks for an upgrade it blocks itself: every
      // later open of the database waits, so the tag's first read of the visitor's memory does not end.
      const blocker = await context.newPage();
      await blocker.goto(`${site.url}/tag-blank.html`);
      await blocker.evaluate(
        () =>
          new Promise<void>((resolve) => {
            const first = indexedDB.open('tagrelay', 1);
            first.onupgradeneeded = () => first.result.createObjectStore('events');
            first.onsuccess = () => {
              (window as unknown as { held: IDBDatabase }).held = first.result; // never closed on versionchange
              indexedDB.open('tagrelay', 2).onblocked = () => resolve();
            };
          }),
      );
      const page = await context.newPage();
      const errors = watchErrors(page);
      const url = `${site.url}/tag-basic.html?clickid=early-${how}&m=early-${how}`;
      await page.goto(url);
      await page.waitForTimeout(300); // t.js ran (goto waits for the load event, async scripts included)
      expect(await page.evaluate(() => window.track.length)).toBe(0); // still the snippet's stub: the tag waits for IndexedDB
      await page.evaluate(() => window.track('sign_up', { plan: 'early' }));
      if (how === 'closed') await page.close({ runBeforeUnload: true });
      else
        await page.evaluate(() => {
          Object.defineProperty(document, 'hidden', { get: () => true });
          document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
        });
      const ofPage = async () => (await collector.events()).filter((e) => e.url === url);
      const events = await until(ofPage, 'the sign_up queued in the stub and the page_view', 2);
      expect(events.map((e) => e.name).sort()).toEqual(['page_view', 'sign_up']);
      for (const e of events) {
        expect(e.clickIds).toEqual({ clickid: `early-${how}` });
        expect(e.anonymousId).toBeUndefined(); // the visitor's memory was never read
      }
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it('track calls made before the tag loaded arrive, in order', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-queue.html`);
    const names = ['view_item', 'add_to_cart', 'begin_checkout', 'purchase'];
    const got = await until(
      async () => (await collector.events()).filter((e) => names.includes(e.name) && e.url?.includes('tag-queue')),
      'the four queued events',
      4,
    );
    // stored in the order the page called track (the collector lists the newest first)
    const stored = [...got].reverse();
    expect(stored.map((e) => e.name)).toEqual(names);
    expect(stored.map((e) => e.properties!.step)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < 4; i++) expect(stored[i]!.time).toBeGreaterThanOrEqual(stored[i - 1]!.time);
    expect(errors).toEqual([]);
    await page.close();
    await context.close();
  });

  it('the tag added twice starts once: every event arrives once, the queued call too', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-twice.html?m=twice`);
    await tagReady(page);
    await page.evaluate(() => window.track('login'));
    const ofPage = async () => (await collector.events()).filter((e) => e.url?.includes('m=twice'));
    await until(ofPage, 'page_view, sign_up and login', 3);
    await page.waitForTimeout(700); // a second copy would have sent its own by now
    expect((await ofPage()).map((e) => e.name).sort()).toEqual(['login', 'page_view', 'sign_up']);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('without the snippet stub, a call made as soon as the tag loaded (its onload) is tracked', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-no-stub.html?m=nostub`);
    const [search] = await until(
      async () => (await collector.events()).filter((e) => e.name === 'search' && e.url?.includes('m=nostub')),
      'the onload call',
    );
    expect(search!.properties).toEqual({ search_term: 'onload' });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an event tracked offline stays in IndexedDB across a reload and is delivered once back online', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html`);
    await tagReady(page);
    // a page of the same origin without the tag, to look into IndexedDB while the tag's page reloads
    const inspector = await context.newPage();
    await inspector.goto(`${site.url}/tag-blank.html`);
    await waitFor(async () => (await idbEvents(inspector)).length === 0, 5000, 'page_view sent');
    await context.setOffline(true);
    await page.evaluate(() => window.track('generate_lead', { form: 'offline' }));
    await waitFor(
      async () => (await idbEvents(inspector)).some((e) => e.name === 'generate_lead'),
      5000,
      'event in IndexedDB',
    );
    await page.waitForTimeout(400); // past the flush debounce: offline, so kept
    // The page goes away while offline. (Not page.reload(): Chromium's offline emulation reports
    // navigator.onLine true to a document unloading for a failed reload, and lets its beacon out.)
    await page.goto('about:blank');
    expect((await idbEvents(inspector)).map((e) => e.name)).toEqual(['generate_lead']);
    expect(await named('generate_lead')).toEqual([]);
    await context.setOffline(false);
    await page.goto(`${site.url}/tag-basic.html`);
    const [e] = await until(() => named('generate_lead'), 'generate_lead delivered', 1, 8000);
    expect(e!.properties).toEqual({ form: 'offline' });
    await waitFor(async () => (await idbEvents(inspector)).length === 0, 5000, 'IndexedDB emptied');
    expect(await collector.metric('tagrelay_collect_events_total', { result: 'duplicate' })).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
