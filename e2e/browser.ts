import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Collector } from './collector.js';
import { waitFor } from './collector.js';

const fixtures = resolve(import.meta.dirname, 'fixtures');

/** Debian's Chromium (CHROMIUM_PATH overrides), headless, with nothing talking to Google in the background. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/**
 * A shop site on its own origin (127.0.0.1, its own port: a different origin from the collector).
 * `GET /<name>.html` serves `e2e/fixtures/<name>.html` with `{{COLLECTOR}}` replaced by the
 * collector's URL; `files` adds in-memory files (e.g. a bundled CMP). Any path under a fixture
 * name (`/tag-spa.html/anything`) serves that fixture too, so SPA routes reload.
 */
export class Site {
  url = '';
  collectorUrl = '';
  readonly files = new Map<string, { type: string; body: string }>();
  private server?: Server;

  static async start(): Promise<Site> {
    const s = new Site();
    s.server = createServer((req, res) => {
      void s.serve(req.url ?? '/').then(
        (f) => {
          if (!f) res.writeHead(404).end('not found');
          else res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
        },
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((r) => s.server!.listen(0, '127.0.0.1', r));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  /** The site's origin, for the collector's `allowedOrigins`. */
  get origin(): string {
    return this.url;
  }

  private async serve(url: string): Promise<{ type: string; body: string } | undefined> {
    const path = new URL(url, 'http://x').pathname;
    const file = this.files.get(path);
    if (file) return file;
    const m = /^\/([\w-]+\.html)/.exec(path);
    if (!m) return undefined;
    const html = await readFile(join(fixtures, m[1]!), 'utf8');
    return { type: 'text/html; charset=utf-8', body: html.replaceAll('{{COLLECTOR}}', this.collectorUrl) };
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Uncaught exceptions and console errors of a page: every scenario asserts this stays empty. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** The page's console lines (the tag's `data-debug` log among them). */
export function consoleLines(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => lines.push(m.text()));
  return lines;
}

/** A fresh context (own storage) and page, with page errors collected. */
export async function open(
  browser: Browser,
  url: string,
  init?: (ctx: BrowserContext) => Promise<unknown>,
): Promise<{ context: BrowserContext; page: Page; errors: string[]; log: string[] }> {
  const context = await browser.newContext();
  if (init) await init(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  const log = consoleLines(page);
  await page.goto(url);
  return { context, page, errors, log };
}

/** Waits until the tag replaced the snippet's stub. */
export async function tagReady(page: Page): Promise<void> {
  // the snippet's stub declares no parameters; the tag's track declares (name, properties, options)
  await page.waitForFunction(
    () => ((window as unknown as { track?: (...a: unknown[]) => void }).track?.length ?? 0) > 0,
    undefined,
    {
      timeout: 10000,
    },
  );
}

/** One event as the tag keeps it in IndexedDB: the event `e`, and `s` once a beacon (unanswered) took it. */
export interface IdbRecord {
  e: { id: string; name: string; properties?: Record<string, unknown> };
  s?: number;
}

/** The records the tag holds in IndexedDB (database `tagrelay`, store `events`), the visitor's memory left out. */
export function idbRecords(page: Page): Promise<IdbRecord[]> {
  return page.evaluate(
    () =>
      new Promise<IdbRecord[]>((resolve, reject) => {
        const req = indexedDB.open('tagrelay');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('events')) return resolve([]);
          const get = db.transaction('events').objectStore('events').getAll();
          // the visitor's memory (key `visitor`) sits beside the events, without an `e`
          get.onsuccess = () => resolve(get.result.filter((r: { e?: unknown }) => r.e));
          get.onerror = () => reject(get.error);
        };
      }),
  );
}

/** The events the tag holds in IndexedDB. */
export const idbEvents = async (page: Page): Promise<IdbRecord['e'][]> => (await idbRecords(page)).map((r) => r.e);

/** Polls `get` until it returns at least `n` items (bounded by `timeoutMs`), and returns them. */
export async function until<T>(get: () => Promise<T[]>, what: string, n = 1, timeoutMs = 5000): Promise<T[]> {
  let got: T[] = [];
  await waitFor(async () => (got = await get()).length >= n, timeoutMs, what);
  return got;
}

/** The tag's random bits (tag/src/uuid.ts): four 32-bit numbers in base 36. A visitor's and a tab's id. */
export const TAG_RANDOM_ID = /^[0-9a-z]{1,7}(\.[0-9a-z]{1,7}){3}$/;
/** An event id of the tag's own (tag/src/track.ts): its time in ms in base 36 (8 characters), then the random bits. */
export const TAG_EVENT_ID = /^[0-9a-z]{8}[0-9a-z]{1,7}(\.[0-9a-z]{1,7}){3}$/;

/**
 * The query parameters the tag's tests mark their pages with (`?m=gpc`, `?burst=1`, …): a collector
 * keeps only campaign tags and click ids in page URLs unless told to keep others (`keepQueryParams`).
 */
export const MARKERS = ['m', 'burst', 'dl', 'flaky', 'nopv', 'orphans', 'spa', 'tabs', 'tc', 'noidb', 'beacon', 'down', 'outage', 'refusals', 'full', 'unconfirmed'];

/** A shop site on its own origin, the real collector (allowing that origin) and Chromium. */
export interface Shop {
  site: Site;
  collector: Collector;
  browser: Browser;
}

export async function startShop(config: Record<string, unknown> = {}): Promise<Shop> {
  const site = await Site.start();
  const collector = await Collector.start({ config: { allowedOrigins: [site.origin], keepQueryParams: MARKERS, ...config } });
  site.collectorUrl = collector.url;
  return { site, collector, browser: await launchBrowser() };
}

export async function stopShop(shop: Partial<Shop>): Promise<void> {
  await shop.browser?.close();
  await shop.collector?.stop();
  await shop.site?.close();
}
