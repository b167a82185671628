import { GVL, TCModel, TCString } from '@iabtcf/core';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import type { Browser } from 'playwright-core';
import { rollup } from 'rollup';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../collector/src/event.js';
import { idbEvents, launchBrowser, MARKERS, open, Site, tagReady, until } from './browser.js';
import { Collector, waitFor } from './collector.js';

let site: Site;
let collector: Collector;
let browser: Browser;

const granted = {
  ad_storage: 'granted',
  analytics_storage: 'granted',
  ad_user_data: 'granted',
  ad_personalization: 'granted',
};
const denied = {
  ad_storage: 'denied',
  analytics_storage: 'denied',
  ad_user_data: 'denied',
  ad_personalization: 'denied',
};

/** A genuine TC string: a GVL built here (no network), the purposes the visitor consented to. */
function tcString(purposes: number[]): string {
  const ids = Array.from({ length: 11 }, (_, i) => i + 1);
  const gvl = new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 100,
    tcfPolicyVersion: 5,
    lastUpdated: '2026-01-01T00:00:00Z',
    purposes: Object.fromEntries(
      ids.map((id) => [id, { id, name: `Purpose ${id}`, description: '', illustrations: [] }]),
    ),
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    stacks: {},
    dataCategories: {},
    vendors: {},
  } as unknown as ConstructorParameters<typeof GVL>[0]);
  const model = new TCModel(gvl);
  model.cmpId = 2;
  model.cmpVersion = 1;
  model.isServiceSpecific = true;
  for (const p of purposes) model.purposeConsents.set(p);
  return TCString.encode(model);
}

beforeAll(async () => {
  site = await Site.start();
  collector = await Collector.start({ config: { allowedOrigins: [site.origin], keepQueryParams: MARKERS } });
  site.collectorUrl = collector.url;
  const bundle = await rollup({
    input: resolve(import.meta.dirname, 'fixtures/tag-cmp.js'),
    plugins: [nodeResolve({ browser: true })],
    onwarn: () => {}, // @iabtcf's own circular imports
  });
  const { output } = await bundle.generate({ format: 'iife' });
  const strings = {
    grant: tcString([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    refuse: tcString([]),
    storageOnly: tcString([1]),
  };
  site.files.set('/cmp.js', {
    type: 'text/javascript',
    body: `${output[0].code}\nwindow.TC_STRINGS = ${JSON.stringify(strings)};`,
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await collector?.stop();
  await site?.close();
});

/** The stored events of one page (its URL holds a marker). */
const ofPage = async (marker: string, name?: string): Promise<StoredEvent[]> =>
  (await collector.events()).filter((e) => e.url?.includes(marker) && (!name || e.name === name));

describe('tag: consent', () => {
  it('Global Privacy Control on: every event carries gpc: true', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-basic.html?m=gpc`, (ctx) =>
      ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })),
    );
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'G-1', value: 1, currency: 'EUR' }));
    const [e] = await until(() => ofPage('m=gpc', 'purchase'), 'purchase', 1, 5000);
    expect(e!.consent).toEqual({ gpc: true });
    const [pv] = await ofPage('m=gpc', 'page_view');
    expect(pv!.consent).toEqual({ gpc: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('t.tcf.js is downloaded only where a TCF CMP is on the page, and listens before the first page_view leaves', async () => {
    for (const [url, downloads] of [
      [`${site.url}/tag-basic.html?m=no-cmp`, 0],
      [`${site.url}/tag-tcf.html?tc=grant&m=with-cmp`, 1], // (a marker no other test's contains)
    ] as const) {
      const fetched: string[] = [];
      const { context, page, errors } = await open(browser, url, async (ctx) =>
        ctx.on('request', (r) => void (r.url().includes('/t.tcf.js') && fetched.push(r.url()))),
      );
      await tagReady(page);
      const marker = new URL(url).searchParams.get('m')!;
      const [pv] = await until(() => ofPage(`m=${marker}`, 'page_view'), 'page_view', 1, 5000);
      expect(fetched).toHaveLength(downloads);
      expect(pv!.consent).toEqual(downloads ? { ...granted, gdpr: true, gpc: false } : { gpc: false });
      expect(errors).toEqual([]);
      await context.close();
    }
  });

  it('a CMP page closed before t.tcf.js listens sends nothing the CMP has not ruled on', async () => {
    // t.tcf.js never arrives: the tag waits for it, and the page closes meanwhile (a hidden page and a
    // closing one start the tag early elsewhere, with whatever consent is known; not here).
    const { context, page, errors } = await open(browser, `${site.url}/tag-tcf.html?tc=refuse&m=tc-closed`, (ctx) =>
      ctx.route('**/t.tcf.js', () => {}),
    );
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => window.track.length)).toBe(0); // still the snippet's stub
    await page.evaluate(() => window.track('purchase', { transaction_id: 'T-closed', value: 5, currency: 'EUR' }));
    await page.close({ runBeforeUnload: true });
    // a control page after it: its page_view arrives, so the closed page's beacon would have by then
    const control = await context.newPage();
    await control.goto(`${site.url}/tag-basic.html?m=tc-control`);
    await until(() => ofPage('m=tc-control', 'page_view'), 'the control page_view', 1, 5000);
    await control.waitForTimeout(500);
    expect(await ofPage('m=tc-closed')).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('t.tcf.js failing to load (a CSP that allows t.js but not its folder): the tag runs without TCF', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-tcf.html?m=tc-noaddon&tc=grant`, (ctx) =>
      ctx.route('**/t.tcf.js', (route) => route.abort()),
    );
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'T-noaddon', value: 5, currency: 'EUR' }));
    const got = await until(() => ofPage('m=tc-noaddon'), 'the page_view and the purchase', 2, 5000);
    expect(got.map((e) => e.name).sort()).toEqual(['page_view', 'purchase']);
    // The CMP granted everything, but nothing read it: no TCF keys, no gdpr.
    for (const e of got) expect(e.consent).toEqual({ gpc: false });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a TCF CMP granting every purpose: events carry the four keys granted and gdpr: true', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-tcf.html?tc=grant`);
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'T-grant', value: 5, currency: 'EUR' }));
    const [e] = await until(() => ofPage('?tc=grant', 'purchase'), 'purchase', 1, 5000);
    expect(e!.consent).toEqual({ ...granted, gdpr: true, gpc: false });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a TCF CMP with Purpose 1 only: storage granted, ad_user_data and ad_personalization denied', async () => {
    const { context, page, errors } = await open(browser, `${site.url}/tag-tcf.html?tc=storageOnly`);
    await tagReady(page);
    await page.evaluate(() => window.track('sign_up'));
    const [e] = await until(() => ofPage('tc=storageOnly', 'sign_up'), 'sign_up', 1, 5000);
    expect(e!.consent).toEqual({
      ad_storage: 'granted',
      analytics_storage: 'granted',
      ad_user_data: 'denied',
      ad_personalization: 'denied',
      gdpr: true,
      gpc: false,
    });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a TCF CMP refusing: nothing is sent, each event is dropped for consent', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-tcf.html?tc=refuse`);
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'T-refuse', value: 5, currency: 'EUR' }));
    await waitFor(
      () => log.filter((l) => /dropped consent/.test(l)).length >= 2,
      5000,
      'page_view and purchase dropped',
    );
    // a later grant through the CMP lets new events through, never the refused ones
    await page.evaluate(() => (window as any).tagCmp.update((window as any).TC_STRINGS.grant, false));
    await page.evaluate(() => window.track('purchase', { transaction_id: 'T-after', value: 6, currency: 'EUR' }));
    const [after] = await until(() => ofPage('tc=refuse', 'purchase'), 'purchase after grant', 1, 5000);
    expect(after!.properties!.transaction_id).toBe('T-after');
    expect(after!.consent).toMatchObject({ ...granted, gdpr: true });
    expect((await ofPage('tc=refuse')).map((e) => e.properties?.transaction_id ?? e.name)).toEqual(['T-after']);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('Consent Mode: default denied drops events, an update granted lets later ones through', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-consent-mode.html?m=cm`);
    await tagReady(page);
    await page.evaluate(() => window.track('generate_lead', { n: 1 }));
    await waitFor(() => log.some((l) => /dropped consent/.test(l)), 5000, 'lead 1 dropped');
    await page.evaluate(() => {
      (window as any).gtag('consent', 'update', {
        ad_storage: 'granted',
        analytics_storage: 'granted',
        ad_user_data: 'granted',
        ad_personalization: 'granted',
      });
      window.track('generate_lead', { n: 2 });
    });
    const [e] = await until(() => ofPage('m=cm', 'generate_lead'), 'lead 2', 1, 5000);
    expect(e!.properties).toEqual({ n: 2 });
    expect(e!.consent).toEqual({ ...granted, gpc: false });
    expect(await ofPage('m=cm')).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('required: events wait in IndexedDB until consent is granted, then leave with that consent', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-required.html?m=hold`);
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'R-1', value: 9, currency: 'EUR' }));
    await waitFor(() => log.some((l) => /held/.test(l)), 5000, 'held');
    expect((await idbEvents(page)).map((e) => e.name)).toEqual(['purchase']);
    // held across a reload of the page, too
    await page.reload();
    await tagReady(page);
    await page.waitForTimeout(400);
    expect(await ofPage('m=hold')).toEqual([]);
    await page.evaluate(() =>
      window.track('consent', {
        ad_storage: 'granted',
        analytics_storage: 'granted',
        ad_user_data: 'granted',
        ad_personalization: 'granted',
      }),
    );
    const [e] = await until(() => ofPage('m=hold', 'purchase'), 'released purchase', 1, 5000);
    expect(e!.properties!.transaction_id).toBe('R-1');
    expect(e!.consent).toEqual({ ...granted, gpc: false });
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'IndexedDB emptied');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('required: held events are discarded when consent is denied', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-required.html?m=discard`);
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'R-2', value: 9, currency: 'EUR' }));
    await waitFor(() => log.some((l) => /held/.test(l)), 5000, 'held');
    await page.evaluate((d) => window.track('consent', d as never), denied);
    await waitFor(() => log.some((l) => /dropped consent/.test(l)), 5000, 'discarded');
    await waitFor(async () => (await idbEvents(page)).length === 0, 5000, 'IndexedDB emptied');
    // consent granted later: the discarded event does not come back
    await page.evaluate((g) => window.track('consent', g as never), granted);
    await page.evaluate(() => window.track('sign_up'));
    await waitFor(() => ofPage('m=discard', 'sign_up').then((l) => l.length), 5000, 'sign_up');
    expect((await ofPage('m=discard')).map((e) => e.name)).toEqual(['sign_up']);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('required with a Consent Mode default of denied: held (not discarded) until the visitor grants', async () => {
    const { context, page, errors, log } = await open(browser, `${site.url}/tag-required-consent-mode.html?m=req`);
    await tagReady(page);
    await page.evaluate(() => window.track('purchase', { transaction_id: 'R-3', value: 1, currency: 'EUR' }));
    await waitFor(() => log.some((l) => /held/.test(l)), 5000, 'held');
    await page.evaluate(() =>
      (window as any).gtag('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted' }),
    );
    const [e] = await until(() => ofPage('m=req', 'purchase'), 'released', 1, 5000);
    expect(e!.consent).toEqual({ ...denied, ad_storage: 'granted', ad_user_data: 'granted', gpc: false });
    expect(errors).toEqual([]);
    await context.close();
  });
});
