// /debug in real Chromium: the page loads with Basic auth, updates live, filters, says for every event and
// destination what became of it and why (the seven verdicts, the same in the JSON), shows what /collect
// refused and id conflicts, tries a destination with a sample event, and shows hostile strings as text.
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './browser.js';
import { ADMIN_TOKEN, Collector, waitFor } from './collector.js';
import { startChase } from './vendors/chase.js';
import { startConvert } from './vendors/convert.js';
import { startImpact } from './vendors/impact.js';
import { startNextdoor } from './vendors/nextdoor.js';
import type { VendorServer } from './vendors/server.js';

const secrets = { nextdoor: 'nd-token-debug-e2e', impact: 'impact-token-debug', chase: 'chase-key-debug-e2e', convert: 'convert-secret-debug' };
const DATA_SOURCE = '5b0b9e9a-156a-11ee-be56-0242ac120002';
/** The page polls every 1.5 s: what a test waits for on it may take a few polls. */
const LIVE = { timeout: 10000 };
const VERDICTS = ['delivered', 'pending', 'skipped', 'rejected', 'dead', 'dry-run', 'not-routed'];

let browser: Browser;
/** Shop A: chase delivers, nextdoor is in dry run, impact refuses T-REJECT, convert answers 503. */
let shop: Collector;
/** Shop B: one attempt only, and its chase answers 503: dead letters. */
let strict: Collector;
let vendors: { nextdoor: VendorServer; impact: VendorServer; chase: VendorServer; convert: VendorServer; chaseDown: VendorServer };

beforeAll(async () => {
  vendors = {
    nextdoor: await startNextdoor(secrets.nextdoor, DATA_SOURCE),
    impact: await startImpact('IRdebug123', secrets.impact, '1000'),
    chase: await startChase(secrets.chase),
    convert: await startConvert({ sdkKeySecret: secrets.convert }),
    chaseDown: await startChase(secrets.chase),
  };
  vendors.impact.override = (req) =>
    req.body.includes('OrderId=T-REJECT')
      ? { status: 400, body: { Status: 'ERROR', errors: [{ field: 'OrderId', level: 'ERROR', message: 'Duplicate OrderId T-REJECT' }] } }
      : undefined;
  vendors.convert.override = (req) => (req.method === 'POST' ? { status: 503, body: { code: 503, message: 'Service Unavailable' } } : undefined);
  vendors.chaseDown.override = () => ({ status: 503, body: { detail: 'Service Unavailable' } });
  shop = await Collector.start({
    config: {
      allowedOrigins: ['https://shop.example'],
      destinations: {
        nextdoor: { token: secrets.nextdoor, dataSourceId: DATA_SOURCE, baseUrl: vendors.nextdoor.url, events: { purchase: 'purchase' }, testEvent: 'TEST123', dryRun: true },
        impact: { accountSid: 'IRdebug123', authToken: secrets.impact, campaignId: '1000', baseUrl: vendors.impact.url, events: { purchase: { eventTypeId: '12345' } } },
        chase: { apiKey: secrets.chase, baseUrl: vendors.chase.url, events: { purchase: 'purchase', sign_up: 'sign-up' } },
        convert: {
          accountId: '10012', projectId: '10034', sdkKeySecret: secrets.convert,
          trackBaseUrl: vendors.convert.url, configBaseUrl: vendors.convert.url, goals: { purchase: 'checkout-complete' },
        },
      },
    },
  });
  strict = await Collector.start({
    config: {
      delivery: { maxAttempts: 1 },
      destinations: { chase: { apiKey: secrets.chase, baseUrl: vendors.chaseDown.url, events: { sign_up: 'sign-up' } } },
    },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await shop?.stop();
  await strict?.stop();
  for (const v of Object.values(vendors ?? {})) await v.close();
});

const granted = { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' };
const purchase = (id: string, tx: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: 'purchase',
  time: Date.now(),
  anonymousId: 'visitor-debug-1',
  url: 'https://shop.example/checkout',
  clickIds: { clickid: `imp-${id}`, ndclid: `nd-${id}` },
  consent: granted,
  properties: {
    transaction_id: tx, value: 42.5, currency: 'USD',
    items: [{ item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2 }],
    user_data: { email: 'ann@example.com', phone_number: '+15551234567' },
  },
  ...extra,
});

async function post(c: Collector, body: unknown): Promise<Response> {
  return fetch(`${c.url}/collect`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function api<T>(c: Collector, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${c.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });
  return { status: res.status, body: (await res.json()) as T };
}

interface Verdict {
  destination: string;
  verdict: string;
  reason: string;
  [k: string]: unknown;
}

/** The verdicts of one event from the JSON, by destination. */
async function verdicts(c: Collector, id: string): Promise<Record<string, Verdict>> {
  const { body } = await api<{ destinations: Verdict[] }>(c, `/debug/api/events/${id}`);
  return Object.fromEntries(body.destinations.map((v) => [v.destination, v]));
}

/** A page on /debug with the admin token as the Basic-auth password, and its errors (script errors, CSP reports, failed loads). */
async function openDebug(c: Collector, query = ''): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: ADMIN_TOKEN }, viewport: { width: 1440, height: 1100 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => void d.accept());
  const res = await page.goto(`${c.url}/debug${query}`);
  expect(res?.status()).toBe(200);
  await page.waitForSelector('#live-status.ok', { timeout: 10000 });
  return { context, page, problems };
}

/** The chips of one event's row, as `destination: verdict`. */
const chipsOf = (page: Page, id: string) => page.locator(`#events tr[data-id="${id}"] .chip`).allTextContents();
const rowIds = (page: Page) => page.locator('#events tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id));

describe('/debug', () => {
  let page: Page;
  let context: BrowserContext;
  let problems: string[];

  it('loads with Basic auth: every destination with its live state, routes and a Try button', async () => {
    ({ page, context, problems } = await openDebug(shop));
    const rows = page.locator('#destinations tbody tr');
    await expect.poll(() => rows.count(), LIVE).toBe(4);
    expect(await page.locator('#destinations tr[data-destination="chase"]').textContent()).toMatch(/active.*purchase → purchase.*sign_up → sign-up/s);
    expect(await page.locator('#destinations tr[data-destination="nextdoor"]').textContent()).toContain('dry run');
    expect(await page.locator('#destinations tr[data-destination="impact"]').textContent()).toContain('purchase → 12345');
    expect(await page.locator('#destinations tr[data-destination="convert"]').textContent()).toContain('purchase → checkout-complete');
    expect(await page.locator('#destinations button.try').count()).toBe(4);
    expect(await page.locator('#events tbody').textContent()).toContain('No event yet');
    // Without credentials: 401, and the page's script is behind the token too.
    expect((await fetch(`${shop.url}/debug`)).status).toBe(401);
    expect((await fetch(`${shop.url}/debug/debug.js`)).status).toBe(401);
    const headers = (await page.request.get(`${shop.url}/debug`)).headers();
    expect(headers['content-security-policy']).toContain("default-src 'none'");
    expect(headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('shows an event posted after the page loaded, without a reload, and its verdicts as they change', async () => {
    expect((await post(shop, { v: 1, events: [purchase('evt-dbg-buy-0001', 'T-1001')] })).status).toBe(200);
    await page.waitForSelector('#events tr[data-id="evt-dbg-buy-0001"]', { timeout: 10000 });
    await expect
      .poll(() => chipsOf(page, 'evt-dbg-buy-0001'), { timeout: 10000 })
      .toEqual(['nextdoor: dry-run', 'impact: delivered', 'chase: delivered', 'convert: pending']);
    expect(problems).toEqual([]);
  });

  it('says for each destination what became of an event and why: all seven verdicts, the same in the JSON', async () => {
    const denied = purchase('evt-dbg-deny-001', 'T-1002', { consent: { ...granted, ad_storage: 'denied' } });
    await post(shop, { v: 1, events: [denied, purchase('evt-dbg-rej-0001', 'T-REJECT')] });
    await post(shop, { v: 1, events: [{ id: 'evt-dbg-view-001', name: 'page_view', time: Date.now(), url: 'https://shop.example/' }] });
    await post(strict, { v: 1, events: [{ id: 'evt-dbg-dead-001', name: 'sign_up', time: Date.now(), properties: { user_data: { email: 'bo@example.com' } } }] });
    await expect.poll(() => chipsOf(page, 'evt-dbg-rej-0001'), { timeout: 10000 }).toContain('impact: rejected');
    await expect.poll(() => chipsOf(page, 'evt-dbg-deny-001'), { timeout: 10000 }).toEqual([
      'nextdoor: skipped',
      'impact: skipped',
      'chase: delivered',
      'convert: pending',
    ]);
    expect(await chipsOf(page, 'evt-dbg-view-001')).toEqual(['nextdoor: not-routed', 'impact: not-routed', 'chase: not-routed', 'convert: not-routed']);

    // The JSON: every verdict with its reason.
    // (convert is retried every few seconds: read it between two attempts, not while one is in flight)
    const buy = await waitFor(async () => {
      const v = await verdicts(shop, 'evt-dbg-buy-0001');
      return v.convert?.inFlight === false && v;
    }, 10000, 'convert between two attempts');
    expect(buy.chase).toMatchObject({ verdict: 'delivered', vendorEvent: 'purchase', status: 202, response: { status: 202, body: expect.stringContaining('Conversion queued') } });
    expect(buy.chase!.reason).toMatch(/chase accepted it \(HTTP 202\)/);
    expect(buy.nextdoor).toMatchObject({ verdict: 'dry-run', reason: expect.stringContaining('destinations.nextdoor.dryRun') });
    expect(buy.nextdoor!.request).toContain('"test_event":"TEST123"');
    expect(buy.nextdoor!.request).toContain('[redacted]');
    expect(buy.nextdoor!.request).not.toContain(secrets.nextdoor);
    expect(buy.convert).toMatchObject({ verdict: 'pending', status: 503, lastError: expect.stringContaining('Service Unavailable') });
    expect(buy.convert!.reason).toMatch(/attempt \d+ failed \(HTTP 503\).*next attempt at \d{4}-/);
    expect(buy.convert!.nextAt).toBeGreaterThan(Date.now() - 60_000);
    const deny = await verdicts(shop, 'evt-dbg-deny-001');
    expect(deny.nextdoor).toMatchObject({ verdict: 'skipped', consentKey: 'ad_storage' });
    expect(deny.nextdoor!.reason).toContain('the event denies ad_storage, a key destinations.nextdoor.consent requires');
    const rej = await verdicts(shop, 'evt-dbg-rej-0001');
    expect(rej.impact).toMatchObject({ verdict: 'rejected', status: 400 });
    expect(rej.impact!.reason).toMatch(/impact refused it \(HTTP 400\).*Duplicate OrderId T-REJECT/);
    const view = await verdicts(shop, 'evt-dbg-view-001');
    expect(view.chase).toMatchObject({ verdict: 'not-routed', setting: 'destinations.chase.events' });
    expect(view.chase!.reason).toBe('no mapping for "page_view": add "page_view" to destinations.chase.events to send it to chase (it takes purchase, sign_up)');
    expect(view.convert).toMatchObject({ verdict: 'not-routed', setting: 'destinations.convert.goals' });
    await waitFor(async () => (await verdicts(strict, 'evt-dbg-dead-001')).chase?.verdict === 'dead', 10000, 'a dead letter');
    const dead = await verdicts(strict, 'evt-dbg-dead-001');
    expect(dead.chase!.reason).toMatch(/gave up after 1 attempts.*503/);
    const seen = new Set([buy, deny, rej, view, dead].flatMap((v) => Object.values(v).map((x) => x.verdict)));
    expect([...seen].sort()).toEqual([...VERDICTS].sort());
    const missing = await api<{ error: string }>(shop, '/debug/api/events/evt-dbg-nowhere');
    expect(missing.status).toBe(404);

    // The page: clicking an event shows the same verdicts with their reasons, the request and the answer.
    await page.locator('#events tr[data-id="evt-dbg-buy-0001"]').click();
    const card = (d: string) => page.locator(`#detail .verdict[data-destination="${d}"]`);
    await expect.poll(() => card('chase').getAttribute('data-verdict'), LIVE).toBe('delivered');
    expect(await card('chase').textContent()).toMatch(/chase accepted it \(HTTP 202\).*Vendor's answer \(HTTP 202\).*Conversion queued/s);
    expect(await card('nextdoor').locator('pre.request').textContent()).toContain('"test_event":"TEST123"');
    // (the card refreshes itself: while an attempt is in flight it says "being sent now", then the failure)
    await expect.poll(() => card('convert').textContent(), LIVE).toMatch(/attempt \d+ failed \(HTTP 503\).*next attempt/s);
    await page.locator('#events tr[data-id="evt-dbg-deny-001"]').click();
    await expect.poll(() => card('nextdoor').getAttribute('data-verdict'), LIVE).toBe('skipped');
    expect(await card('nextdoor').textContent()).toContain('ad_storage');
    await page.locator('#events tr[data-id="evt-dbg-rej-0001"]').click();
    await expect.poll(() => card('impact').textContent(), LIVE).toContain('Duplicate OrderId T-REJECT');
    await page.locator('#events tr[data-id="evt-dbg-view-001"]').click();
    await expect.poll(() => card('convert').textContent(), LIVE).toContain('destinations.convert.goals');

    // The dead letter, on the other collector's page.
    const other = await openDebug(strict);
    await expect.poll(() => chipsOf(other.page, 'evt-dbg-dead-001'), { timeout: 10000 }).toEqual(['chase: dead']);
    await other.page.locator('#events tr[data-id="evt-dbg-dead-001"]').click();
    await expect.poll(() => other.page.locator('#detail .verdict[data-destination="chase"]').textContent(), LIVE).toMatch(/dead letter.*gave up after 1 attempts/);
    expect(other.problems).toEqual([]);
    await other.context.close();
    expect(problems).toEqual([]);
  });

  it('filters by name, verdict, destination, click id, event id and time, in the page and its URL', async () => {
    const setFilter = async (name: string, value: string) => {
      const el = page.locator(`#filters [name="${name}"]`);
      if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(value);
      else await el.fill(value);
    };
    const all = ['evt-dbg-view-001', 'evt-dbg-rej-0001', 'evt-dbg-deny-001', 'evt-dbg-buy-0001'];
    await expect.poll(() => rowIds(page), LIVE).toEqual(all);
    await setFilter('name', 'page_view');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-view-001']);
    expect(page.url()).toContain('name=page_view');
    await setFilter('name', '');
    await setFilter('verdict', 'rejected');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-rej-0001']);
    await setFilter('destination', 'impact');
    await setFilter('verdict', 'skipped');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-deny-001']);
    await setFilter('verdict', '');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-rej-0001', 'evt-dbg-deny-001', 'evt-dbg-buy-0001']);
    await setFilter('destination', '');
    await setFilter('clickId', 'nd-evt-dbg-rej-0001');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-rej-0001']);
    await setFilter('clickId', '');
    await setFilter('id', 'evt-dbg-buy-0001');
    await expect.poll(() => rowIds(page), LIVE).toEqual(['evt-dbg-buy-0001']);
    await setFilter('id', '');
    await setFilter('since', toLocalInput(Date.now() + 3_600_000));
    await expect.poll(() => rowIds(page), LIVE).toEqual([]);
    expect(await page.locator('#events tbody').textContent()).toContain('No event matches these filters');
    // A filtered view can be bookmarked: the URL carries the filters, a new page starts with them.
    const bookmarked = await openDebug(shop, '?verdict=not-routed');
    expect(await rowIds(bookmarked.page)).toEqual(['evt-dbg-view-001']);
    expect(await bookmarked.page.locator('#filters [name="verdict"]').inputValue()).toBe('not-routed');
    await bookmarked.context.close();
    await page.locator('#clear-filters').click();
    await expect.poll(() => rowIds(page), LIVE).toEqual(all);
    // The JSON takes the same filters.
    const { body } = await api<{ events: { id: string }[] }>(shop, '/debug/api/live?destination=convert&verdict=pending');
    expect(body.events.map((e) => e.id)).toEqual(['evt-dbg-rej-0001', 'evt-dbg-deny-001', 'evt-dbg-buy-0001']);
    expect((await api(shop, '/debug/api/live?verdict=lost')).status).toBe(400);
    expect(problems).toEqual([]);
  });

  it('Try sends a sample event to one destination and shows the exact request, redacted, and the answer; nothing is stored', async () => {
    const before = (await shop.events()).length;
    const chaseBefore = vendors.chase.requests.length;
    await page.locator('#destinations button.try[data-destination="chase"]').click();
    await page.waitForSelector('#try-result:not([hidden]) pre.response', { timeout: 10000 });
    const result = (await page.locator('#try-result').textContent())!;
    expect(result).toMatch(/Try chase: purchase → purchase\s*accepted/);
    expect(result).toContain(`POST ${vendors.chase.url}/api/v2/conversions`);
    expect(result).toContain('"x-api-key":"[redacted]"');
    expect(result).toContain('"user_id":"tagrelay-try-customer"');
    expect(result).toContain('"email":"[personal data]"');
    expect(result).toContain("Vendor's answer (HTTP 202)");
    expect(result).toContain('Conversion queued');
    expect(result).not.toContain(secrets.chase);
    expect(vendors.chase.requests.length).toBe(chaseBefore + 1);
    const sent = JSON.parse(vendors.chase.requests.at(-1)!.body);
    expect(sent).toMatchObject({ email: 'tagrelay-test@example.com', conversion_type: 'purchase', conversion_data: { value: 42.5, currency: 'USD' } });

    // Nextdoor is in dry run: the request (with its test event code) is shown, nothing is sent.
    const nextdoorBefore = vendors.nextdoor.requests.length;
    await page.locator('#destinations button.try[data-destination="nextdoor"]').click();
    await expect.poll(() => page.locator('#try-result h3').first().textContent(), LIVE).toMatch(/Try nextdoor: purchase → purchase\s*dry-run/);
    const dry = (await page.locator('#try-result pre.request').textContent())!;
    expect(dry).toContain('"test_event":"TEST123"');
    expect(dry).toContain('"authorization":"[redacted]"');
    expect(dry).not.toContain(secrets.nextdoor);
    expect(vendors.nextdoor.requests.length).toBe(nextdoorBefore);

    // Convert answers 503: shown as retryable, with the vendor's answer.
    await page.locator('#destinations button.try[data-destination="convert"]').click();
    await expect.poll(() => page.locator('#try-result').textContent(), { timeout: 10000 }).toMatch(/Try convert.*retryable.*Service Unavailable/s);

    expect((await shop.events()).length).toBe(before);
    // The JSON, and what a cross-site form cannot do: without the custom header, nothing is sent.
    const json = await api<{ outcome: string; request: string; response: { status: number } }>(shop, '/debug/api/try/impact', { method: 'POST', headers: { 'x-tagrelay-debug': '1' } });
    expect(json.body).toMatchObject({ outcome: 'accepted', response: { status: 200 } });
    expect(json.body.request).toContain('CustomerEmail=[personal data]&');
    const impactBefore = vendors.impact.requests.length;
    expect((await api(shop, '/debug/api/try/impact', { method: 'POST' })).status).toBe(403);
    expect((await api(shop, '/debug/api/try/nowhere', { method: 'POST', headers: { 'x-tagrelay-debug': '1' } })).status).toBe(404);
    expect(vendors.impact.requests.length).toBe(impactBefore);
    for (const v of Object.values(vendors)) expect(v.violations).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('shows what /collect refused and id conflicts', async () => {
    await post(shop, '{"v":1,"events":[');
    await post(shop, { v: 1, events: [{ id: 'evt-dbg-bad-0001', name: 'purchase', time: 'yesterday' }] });
    await post(shop, { v: 1, events: [purchase('evt-dbg-buy-0001', 'T-OTHER')] });
    await expect.poll(() => page.locator('#refusals tbody tr').count(), LIVE).toBeGreaterThanOrEqual(2);
    const refusals = (await page.locator('#refusals tbody').textContent())!;
    expect(refusals).toContain('body is not valid JSON');
    expect(refusals).toMatch(/purchase evt-dbg-bad-0001.*events\.0\.time/s);
    await expect.poll(() => page.locator('#conflicts tbody').textContent(), LIVE).toContain('evt-dbg-buy-0001');
    expect(await page.locator('#conflicts tbody').textContent()).not.toContain('ann@example.com');
    // An id refused at ingest: the event's JSON says so.
    const refused = await api<{ error: string }>(shop, '/debug/api/events/evt-dbg-bad-0001');
    expect(refused.status).toBe(404);
    expect(refused.body.error).toMatch(/refused at ingest: events\.0\.time/);

    // TAGRELAY_SCREENSHOT=1: the README's picture of the page (docs/debug.png).
    if (process.env.TAGRELAY_SCREENSHOT) {
      await page.setViewportSize({ width: 1440, height: 1500 });
      await page.reload();
      await page.locator('#events tr[data-id="evt-dbg-rej-0001"]').click();
      await page.waitForSelector('#detail .verdict[data-destination="convert"]');
      await page.screenshot({ path: resolve(import.meta.dirname, '../docs/debug.png') });
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows hostile strings as text, never as markup', async () => {
    const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    await post(strict, {
      v: 1,
      events: [
        {
          id: 'evt-dbg-xss-0001',
          name: 'sign_up',
          time: Date.now(),
          url: `https://shop.example/${hostile}`,
          referrer: hostile,
          anonymousId: hostile,
          clickIds: { clickid: hostile },
          properties: { value: 1, currency: hostile, transaction_id: hostile, user_data: { email: 'x@example.com' } },
        },
        { id: 'evt-dbg-xss-0002', name: '<img src=x onerror="window.__xss=3">', time: Date.now() },
      ],
    });
    await post(strict, { v: 1, events: [{ id: 'evt-dbg-xss-0001', name: 'sign_up', time: Date.now(), properties: { note: hostile } }] });
    const { page: p, problems: errs, context: ctx } = await openDebug(strict);
    await p.waitForSelector('#events tr[data-id="evt-dbg-xss-0001"]');
    await p.locator('#events tr[data-id="evt-dbg-xss-0001"]').click();
    await p.waitForSelector('#detail .verdict');
    await p.locator('#detail details summary').click();
    await expect.poll(() => p.locator('#conflicts tbody').textContent(), LIVE).toContain('evt-dbg-xss-0001');
    expect(await p.locator('#events tbody').textContent()).toContain('clickid=<img src=x onerror="window.__xss=1">');
    expect(await p.locator('#detail').textContent()).toContain(hostile);
    expect(await p.locator('#conflicts tbody').textContent()).toContain('<img src=x');
    await expect.poll(() => p.locator('#refusals tbody').textContent(), LIVE).toContain('<img src=x onerror="window.__xss=3"> evt-dbg-xss-0002');
    expect(await p.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await p.locator('img, main script').count()).toBe(0);
    // The first state, in the page's data block, cannot close its element.
    const html = await (await fetch(`${strict.url}/debug`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(html).not.toContain('<img');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(errs).toEqual([]);
    await ctx.close();
  });
});

describe('/debug Try and delivery state', () => {
  it('a Try the vendor answers 401 or 503 pauses nothing and backs nothing off: the lane stays active and every delivery is as it was', async () => {
    const vendor = await startChase(secrets.chase);
    // A paused lane would hold new events for maxBackoffMs: a minute here.
    const c = await Collector.start({
      config: {
        delivery: { maxBackoffMs: 60_000 },
        destinations: { chase: { apiKey: secrets.chase, baseUrl: vendor.url, events: { purchase: 'purchase', sign_up: 'sign-up' }, verifiedOnly: ['purchase'] } },
      },
    });
    try {
      // One delivery delivered, one pending (a browser purchase waiting for the backend's confirmation).
      await post(c, { v: 1, events: [{ id: 'evt-try-state-01', name: 'sign_up', time: Date.now(), properties: { user_data: { email: 'ann@example.com' } } }, purchase('evt-try-state-02', 'T-TRY-STATE')] });
      await waitFor(async () => {
        const ds = await c.deliveries();
        return ds.length === 2 && ds.some((d) => d.state === 'delivered') && ds.some((d) => d.state === 'pending' && d.detail?.includes('verifiedOnly'));
      }, 10000, 'one delivered, one waiting');
      const deliveriesBefore = await c.deliveries();
      const eventsBefore = await c.events();
      const lanesBefore = (await api<{ lanes: unknown[] }>(c, '/debug/api/status')).body.lanes;
      expect(lanesBefore).toEqual([expect.objectContaining({ destination: 'chase', state: 'active', consecutiveFailures: 0 })]);

      for (const [status, body, outcome] of [
        [401, { detail: 'Invalid API key' }, 'bad-credentials'],
        [503, { detail: 'Service Unavailable' }, 'retryable'],
      ] as const) {
        vendor.override = () => ({ status, body });
        const sent = vendor.requests.length;
        const tried = await api<{ outcome: string; response: { status: number } }>(c, '/debug/api/try/chase', { method: 'POST', headers: { 'x-tagrelay-debug': '1' } });
        expect(tried.body).toMatchObject({ outcome, response: { status } });
        expect(vendor.requests.length).toBe(sent + 1);
        // A delivery answered so would pause the lane (401) or back it off (503): Try does neither.
        expect(await (await fetch(`${c.url}/healthz`)).json()).toEqual({ status: 'ok', destinations: [{ destination: 'chase', state: 'active' }] });
        expect((await api<{ lanes: unknown[] }>(c, '/debug/api/status')).body.lanes).toEqual(lanesBefore);
        expect(await c.deliveries()).toEqual(deliveriesBefore);
      }
      expect(await c.events()).toEqual(eventsBefore);

      // The vendor works again: a new event goes at once, as it would through a lane that was never paused.
      vendor.override = undefined;
      await post(c, { v: 1, events: [{ id: 'evt-try-state-03', name: 'sign_up', time: Date.now(), properties: { user_data: { email: 'bob@example.com' } } }] });
      await waitFor(async () => (await c.deliveries()).find((d) => d.eventId === 'evt-try-state-03')?.state === 'delivered', 5000, 'the new event delivered');
      expect(vendor.violations).toEqual([]);
    } finally {
      await c.stop();
      await vendor.close();
    }
  });
});

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}
