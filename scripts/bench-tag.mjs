// npm run bench:tag: the tag's main-thread cost beside Plausible, Segment and Snowplow, in one
// headless Chromium run. Every subject is served offline from its npm package (Snowplow's
// browser-tracker bundled here into an IIFE, as its CDN's sp.js is), with its settings and
// collection endpoints answered locally. For each CPU rate (1x, and 4x: a mid-range phone) and
// each run, every subject gets a fresh page, in a shuffled order:
//   load    CDP Performance.getMetrics ScriptDuration and TaskDuration once the page has loaded and
//           settled for LOAD_SETTLE_MS (the page's own few lines included; `blank` is the page
//           without a subject), and the long tasks seen (PerformanceObserver 'longtask')
//   calls   100 ecommerce `track` calls in one task: their synchronous time (performance.now()
//           around the loop), then ScriptDuration/TaskDuration from before the calls to
//           CALLS_SETTLE_MS after them (the calls and what they caused after returning:
//           buffering, batching, sending), and the long tasks among them
// Figures are medians of BENCH_RUNS runs (default 5); the load script is also compared with Plausible's
// run by run (the goal takes the median of those ratios). Quote ratios from one run: machines here are
// shared and noisy. BENCH_RATES=1, BENCH_SUBJECTS=tagrelay,plausible and BENCH_TAG=<another t.js>
// narrow a run down.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { chromium } from 'playwright-core';
import { rollup } from 'rollup';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RATES = (process.env.BENCH_RATES ?? '1,4').split(',').map(Number);
const CALLS = 100;
const LOAD_SETTLE_MS = 1500;
const CALLS_SETTLE_MS = 2000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pkg = (path) => join(root, 'node_modules', path);

let tag;
try {
  tag = readFileSync(process.env.BENCH_TAG ?? join(root, 'dist/t.js'));
} catch {
  console.error('dist/t.js is missing: run `npm run build:tag` first');
  process.exit(1);
}

/** Snowplow's browser tracker as one minified IIFE (window.snowplow), like its CDN build. */
async function snowplowBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-bench-'));
  try {
    const entry = join(dir, 'sp.mjs');
    writeFileSync(entry, "export * from '@snowplow/browser-tracker';\n");
    const bundle = await rollup({
      input: entry,
      plugins: [nodeResolve({ browser: true, rootDir: root, modulePaths: [join(root, 'node_modules')] })],
      onwarn: () => {},
    });
    const { output } = await bundle.generate({ format: 'iife', name: 'snowplow', plugins: [terser()] });
    return output[0].code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One ecommerce event, as each subject's API takes it.
const ORDER = `{ transaction_id: 'T-' + i, value: 42.5, currency: 'USD', coupon: 'SPRING',
  items: [{ item_id: 'SKU1', item_name: 'Anvil', item_category: 'Tools', price: 21.25, quantity: 2 },
          { item_id: 'SKU2', item_name: 'Rope', item_category: 'Tools', price: 9.5, quantity: 1 }] }`;
const SEGMENT_KEY = 'benchWriteKey';

const pages = {
  blank: '<script>window.bench = () => {}; window.ready = () => true;</script>',
  tagrelay: `<script>window.track=window.track||function(){(track.q=track.q||[]).push(arguments)}</script>
<script async src="/t.js"></script>
<script>
window.bench = (i) => track('purchase', ${ORDER});
window.ready = () => track.length > 0; // the stub takes no declared parameters
</script>`,
  plausible: `<script type="module">
import { init, track } from '/plausible.js';
init({ domain: 'shop.example', endpoint: '/api/event', captureOnLocalhost: true, logging: false });
window.bench = (i) => { const o = ${ORDER}; track('purchase', { props: { transaction_id: o.transaction_id, coupon: o.coupon },
  revenue: { amount: o.value, currency: o.currency } }); };
window.ready = () => true;
</script>`,
  segment: `<script>
!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="/segment/analytics.js/v1/"+key+"/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="${SEGMENT_KEY}";analytics.SNIPPET_VERSION="5.2.0";
analytics.load("${SEGMENT_KEY}");
analytics.page();
}}();
window.bench = (i) => analytics.track('Order Completed', ${ORDER});
window.ready = () => analytics.initialized === true;
</script>`,
  snowplow: `<script src="/sp.js"></script>
<script>
snowplow.newTracker('sp', location.origin, { appId: 'shop', eventMethod: 'post', contexts: { webPage: true } });
snowplow.trackPageView();
const E = 'iglu:com.snowplowanalytics.snowplow.ecommerce/';
window.bench = (i) => {
  const o = ${ORDER};
  snowplow.trackSelfDescribingEvent({
    event: { schema: E + 'snowplow_ecommerce_action/jsonschema/1-0-2', data: { type: 'transaction' } },
    context: [
      { schema: E + 'transaction/jsonschema/1-0-0', data: { transaction_id: o.transaction_id, revenue: o.value,
        currency: o.currency, payment_method: 'card', total_quantity: 3 } },
      ...o.items.map((p) => ({ schema: E + 'product/jsonschema/1-0-0', data: { id: p.item_id, name: p.item_name,
        category: p.item_category, price: p.price, currency: o.currency, quantity: p.quantity } })),
    ],
  });
};
window.ready = () => true;
</script>`,
};
const SUBJECTS = process.env.BENCH_SUBJECTS?.split(',') ?? Object.keys(pages);

const segmentSettings = (origin) =>
  JSON.stringify({
    integrations: { 'Segment.io': { apiKey: SEGMENT_KEY, apiHost: `${origin.replace('http://', '')}/segment-api`, protocol: 'http' } },
    plan: { track: { __default: { enabled: true } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  });

/** A lazily loaded chunk of Segment's standalone build, from its package. */
const segmentFile = (path) =>
  readFileSync(pkg(`@segment/analytics-next/dist/umd/${path.split('/').pop().replace(/[^\w.-]/g, '')}`));

async function startServer(sp) {
  const files = {
    '/t.js': tag,
    '/plausible.js': readFileSync(pkg('@plausible-analytics/tracker/plausible.js')),
    '/sp.js': Buffer.from(sp),
    [`/segment/analytics.js/v1/${SEGMENT_KEY}/analytics.min.js`]: readFileSync(
      pkg('@segment/analytics-next/dist/umd/standalone.js'),
    ),
  };
  let origin = '';
  const server = createServer((req, res) => {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const js = (body) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
    if (files[path]) return js(files[path]);
    const page = /^\/(\w+)\.html$/.exec(path)?.[1];
    if (page && pages[page])
      return res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>${pages[page]}</head><body><h1>Shop</h1></body></html>`);
    if (path.startsWith('/segment/analytics-next/bundles/')) return js(segmentFile(path));
    if (path === `/segment/v1/projects/${SEGMENT_KEY}/settings`)
      return res.writeHead(200, { 'content-type': 'application/json' }).end(segmentSettings(origin));
    // every collection endpoint: tagrelay's /collect, Plausible's /api/event, Segment's API, Snowplow's tp2
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"stored":1,"duplicates":0}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  return { server, origin };
}

/** One subject in a fresh page: load figures, then the 100 calls' figures. */
async function measure(browser, origin, subject, rate) {
  const context = await browser.newContext();
  // nothing leaves the machine: Segment's CDN (settings, bundles) is answered from its package,
  // anything else not served locally is answered empty
  await context.route(
    (url) => !url.href.startsWith(origin),
    (route) => {
      const url = new URL(route.request().url());
      if (url.host === 'cdn.segment.com' && url.pathname === `/v1/projects/${SEGMENT_KEY}/settings`)
        return route.fulfill({ status: 200, contentType: 'application/json', body: segmentSettings(origin) });
      if (url.host === 'cdn.segment.com' && url.pathname.startsWith('/analytics-next/bundles/'))
        return route.fulfill({ status: 200, contentType: 'text/javascript', body: segmentFile(url.pathname) });
      return route.fulfill({ status: 200, contentType: 'application/json', body: '{}' });
    },
  );
  await context.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  if (rate !== 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  const metrics = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    return { script: m.ScriptDuration * 1000, task: m.TaskDuration * 1000 };
  };
  await page.goto(`${origin}/${subject}.html`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.ready(), undefined, { timeout: 30000 });
  await page.waitForTimeout(LOAD_SETTLE_MS);
  const load = await metrics();
  const loadLongTasks = await page.evaluate(() => window.__longTasks.length);
  // the calls run in a task of the page's own (a timer), as a site's code would, so that
  // ScriptDuration counts them
  const { sync, start } = await page.evaluate(
    (n) =>
      new Promise((resolve) =>
        setTimeout(() => {
          const start = performance.now();
          for (let i = 0; i < n; i++) window.bench(i);
          resolve({ sync: performance.now() - start, start });
        }),
      ),
    CALLS,
  );
  await page.waitForTimeout(CALLS_SETTLE_MS);
  const after = await metrics();
  const callLongTasks = await page.evaluate((t) => window.__longTasks.filter((e) => e.start >= t - 1).length, start);
  await context.close();
  return {
    loadScript: load.script,
    loadTask: load.task,
    loadLongTasks,
    sync,
    callsScript: after.script - load.script,
    callsTask: after.task - load.task,
    callLongTasks,
  };
}

const sp = await snowplowBundle();
const { server, origin } = await startServer(sp);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
const results = {}; // rate -> subject -> figure -> [runs]
try {
  for (const rate of RATES) {
    results[rate] = Object.fromEntries(SUBJECTS.map((s) => [s, {}]));
    for (let run = 0; run < RUNS; run++) {
      const order = [...SUBJECTS].sort(() => Math.random() - 0.5);
      for (const subject of order) {
        const r = await measure(browser, origin, subject, rate);
        for (const [k, v] of Object.entries(r)) (results[rate][subject][k] ||= []).push(v);
      }
      process.stderr.write(`${rate}x run ${run + 1}/${RUNS}\n`);
    }
  }
} finally {
  await browser.close();
  server.close();
}

const fig = (rate, subject, k) => median(results[rate][subject][k]);
const ms = (x) => (x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
console.log(`\nTag main-thread cost, medians of ${RUNS} runs, Chromium ${browser.version()}`);
for (const rate of RATES) {
  console.log(`\nCPU ${rate}x       load: script  task  long tasks | ${CALLS} calls: sync        script        task  long tasks`);
  for (const s of SUBJECTS)
    console.log(
      `  ${s.padEnd(10)} ${ms(fig(rate, s, 'loadScript')).padStart(12)} ${ms(fig(rate, s, 'loadTask')).padStart(5)} ${String(fig(rate, s, 'loadLongTasks')).padStart(11)} | ${ms(fig(rate, s, 'sync')).padStart(16)} ${ms(fig(rate, s, 'callsScript')).padStart(13)} ${ms(fig(rate, s, 'callsTask')).padStart(11)} ${String(fig(rate, s, 'callLongTasks')).padStart(11)}`,
    );
}
// Load script paired by run: each run loads every subject one after the other, so the ratio within a run
// is steadier than the ratio of medians on a shared machine.
const pairedLoad = (rate) => {
  const tag = results[rate].tagrelay?.loadScript;
  const peer = results[rate].plausible?.loadScript;
  return tag && peer ? tag.map((x, i) => x / peer[i]) : undefined;
};
for (const rate of RATES) {
  const paired = pairedLoad(rate);
  if (paired)
    console.log(
      `  ${rate}x load script, tagrelay / Plausible in each run: median ${median(paired).toFixed(2)}x (runs ${paired.map((x) => x.toFixed(2)).join(', ')})`,
    );
}
if (SUBJECTS.length < Object.keys(pages).length || !RATES.includes(1)) process.exit(0); // a narrowed run: figures only
const ratio = (a, b) => (b / a).toFixed(1);
const t = (k, rate = 1) => fig(rate, 'tagrelay', k);
console.log('\nRatios (same run):');
for (const rate of RATES)
  console.log(
    `  ${rate}x: ${CALLS} calls sync: Segment ${ratio(t('sync', rate), fig(rate, 'segment', 'sync'))}x tagrelay's, Snowplow ${ratio(t('sync', rate), fig(rate, 'snowplow', 'sync'))}x, Plausible ${ratio(t('sync', rate), fig(rate, 'plausible', 'sync'))}x; load script: tagrelay ${(t('loadScript', rate) / fig(rate, 'plausible', 'loadScript')).toFixed(2)}x Plausible's`,
  );
const goals = [
  [`${CALLS} calls at 1x: <= 10 ms synchronous`, t('sync') <= 10],
  [`${CALLS} calls at 1x: >= 30x less than Segment`, fig(1, 'segment', 'sync') / t('sync') >= 30],
  [`${CALLS} calls at 1x: ahead of Snowplow`, t('sync') < fig(1, 'snowplow', 'sync')],
  ['no long task at 1x from load through the calls', t('loadLongTasks') + t('callLongTasks') === 0],
  ["load script at 1x: no more than Plausible's (median of the paired runs' ratios)", median(pairedLoad(1)) <= 1],
];
console.log('\nGoals:');
for (const [goal, ok] of goals) console.log(`  ${ok ? 'met ' : 'MISS'}  ${goal}`);
