// npm run bench: the collector's speed, each figure beside a baseline measured in the same run.
// Loopback only; bounded in time. Quote medians and ratios: machines here are shared and noisy.
//   BENCH_QUICK=1 npm run bench   shorter runs and a 100,000-delivery backlog instead of 1,000,000
//   BENCH_ONLY=sqlite | postgres | sqlite-cpu   one half, or only SQLite's CPU a request (the servers alive at once)
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { postgresBenchmarks } from './bench/postgres.mjs';
import { startBareExpress, startCollector, startVendor, startVendorProcess } from './bench/servers.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 1 : 3;
/** The ingest ratio's rounds: each pairs a bare-Express run with a tagrelay run right after it. */
const INGEST_ROUNDS = QUICK ? 1 : 5;
const SECONDS = QUICK ? 3 : 5;
/**
 * Seconds of the same load before each measured ingest run, for every server alike: a collector runs for
 * days, and its figures are those of its steady state. With a destination delivering, V8 keeps compiling
 * the delivery path for several seconds after start (110 functions compiled in a 4-s window after a 3-s
 * warm-up, 44 after 15 s): after a 1-s warm-up that run cost about 10 % more CPU a request (BENCHMARKS.md).
 */
const WARMUP = QUICK ? 3 : 10;
const BACKLOG = QUICK ? 100_000 : 1_000_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
/** One figure: `ok` says whether it meets its goal; a figure with no goal (context) has `ok` undefined. */
const report = (name, figure, baseline, ratio, goal, ok) => {
  results.push({ name, figure, baseline, ratio, goal, ok });
  console.log(`${ok === undefined ? 'INFO' : ok ? 'PASS' : 'FAIL'}  ${name}: ${figure} | baseline ${baseline} | ratio ${ratio} | goal ${goal}`);
};

let seq = 0;
const prefix = randomUUID().slice(0, 8);
function purchase() {
  seq++;
  return {
    id: `${prefix}-${seq}`,
    name: 'purchase',
    time: Date.now(),
    anonymousId: 'a1b2c3d4e5f6',
    url: 'https://shop.example/checkout/complete',
    clickIds: { clickid: 'abc123', ndclid: 'nd-789' },
    consent: { ad_storage: 'granted', ad_user_data: 'granted', gpc: false },
    properties: {
      transaction_id: `T-${seq}`, value: 42.5, currency: 'USD',
      items: [{ item_id: 'SKU1', item_name: 'Anvil', price: 21.25, quantity: 2 }],
      user_data: { email: 'ann@example.com' },
    },
  };
}
const batchBody = (n) => JSON.stringify({ v: 1, events: Array.from({ length: n }, purchase) });
/**
 * A 10-event batch whose event ids are made by `make`. The other bodies number their events (`prefix-1`,
 * `prefix-2`, …): ids that sort next to each other, so each commit adds to the same few pages of the id index.
 * Random ids (UUIDs, which the tag made until the twenty-first stop and a server may send) land on a page of
 * their own each, once the index is larger than a commit's events; the tag's ids now sort by time, as its
 * `track.ts` makes them (BENCHMARKS.md, twenty-first stop).
 */
const bodyWithIds = (make) => () => {
  const events = Array.from({ length: 10 }, purchase);
  for (const e of events) e.id = make();
  return JSON.stringify({ v: 1, events });
};
const randomIdsBody = bodyWithIds(randomUUID);
// as tag/src/track.ts and uuid.ts make them: the time in ms in base 36, then 128 random bits as four base-36 numbers
const tagIdsBody = bodyWithIds(() => Date.now().toString(36) + [...crypto.getRandomValues(new Uint32Array(4))].map((n) => n.toString(36)).join('.'));
let visitors = 0;
/** A 10-event batch from a visitor not seen before: its click ids are remembered (a visitor write per request). */
const newVisitorBody = () => {
  const events = Array.from({ length: 10 }, purchase);
  const id = `${prefix}-visitor-${++visitors}`;
  for (const e of events) e.anonymousId = id;
  return JSON.stringify({ v: 1, events });
};

/**
 * autocannon against POST /collect: 10-event batches (`body`: one visitor's, by default), 50 connections; returns requests/s, p99 ms, how
 * many requests and the server's CPU ms per request (its own process; steadier than requests/s on a
 * shared machine).
 */
async function load(server, seconds = SECONDS, body = () => batchBody(10)) {
  const cpu0 = server.cpuMs();
  const r = await autocannon({
    url: `${server.url}/collect`,
    connections: 50,
    duration: seconds,
    requests: [{ method: 'POST', headers: { 'content-type': 'text/plain' }, setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  if (r.non2xx || r.errors) {
    // autocannon keeps no answer's body: one more request says why (a collector refuses with its reason, such
    // as its disk's free space under `limits.minFreeBytes`, which a full run's gigabytes of data can reach); a
    // server that no longer answers says so within 5 s rather than holding the run.
    const now = await fetch(`${server.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: body(), signal: AbortSignal.timeout(5000) }).then(
      async (res) => `${res.status} ${(await res.text()).slice(0, 300)}`,
      (e) => e.message,
    );
    throw new Error(`load had ${r.non2xx} non-2xx answers and ${r.errors} errors; one more request now: ${now}`);
  }
  return { rps: r.requests.average, p99: r.latency.p99, cpu: (server.cpuMs() - cpu0) / r.requests.total, requests: r.requests.total };
}

async function deliveredCount(url) {
  return (await deliveryCounts(url)).delivered;
}

/** A collector's deliveries done so far (every outcome) and its failed attempts (timeouts and network errors among them). */
async function deliveryCounts(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name) => [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
  return { delivered: sum('tagrelay_deliveries_total'), failed: sum('tagrelay_delivery_failures_total') };
}

/** Runs `measure` against a collector, adding the deliveries a second it made meanwhile ("delivering meanwhile", shown). */
async function withDeliveries(url, measure) {
  const [d0, t0] = [await deliveredCount(url), Date.now()];
  const r = await measure();
  return { ...r, deliveries: ((await deliveredCount(url)) - d0) / ((Date.now() - t0) / 1000) };
}

async function postEvents(url, total, perBatch = 100) {
  for (let sent = 0; sent < total; sent += perBatch) {
    const res = await fetch(`${url}/collect`, { method: 'POST', body: batchBody(Math.min(perBatch, total - sent)) });
    if (!res.ok) throw new Error(`collect: ${res.status}`);
  }
}

const chaseTo = (vendor, extra = {}) => ({
  chase: { apiKey: 'bench-key', baseUrl: vendor.url, events: { purchase: 'purchase' }, ...extra },
});

// 1. Ingest: durable /collect beside a bare Express handler, alternating, INGEST_ROUNDS times each.
// Each round: bare Express, then tagrelay with one destination delivering meanwhile, then tagrelay
// with no destination (what storing costs alone: no delivery rows, no requests to a vendor).
async function ingest() {
  // Deliveries run meanwhile, to a vendor with a realistic 100 ms answer, in its own process so that it
  // does not slow the load generator during tagrelay's rounds only.
  const vendor = await startVendorProcess(100);
  const bare = [], durable = [], alone = [], randomIds = [], tagIds = [];
  for (let i = 0; i < INGEST_ROUNDS; i++) {
    const b = await startBareExpress();
    await load(b, WARMUP);
    bare.push(await load(b));
    await b.stop();
    for (const [config, into, body] of [[{ destinations: chaseTo(vendor) }, durable], [{}, alone], [{}, randomIds, randomIdsBody], [{}, tagIds, tagIdsBody]]) {
      const c = await startCollector(config);
      await load(c, WARMUP, body);
      into.push(await withDeliveries(c.url, () => load(c, SECONDS, body)));
      await c.stop();
    }
  }
  await vendor.stop();
  // The ratio of each round's pair, then their median: the machine's speed drifts between rounds, far
  // less within one pair.
  const pairs = (runs) => runs.map((r, i) => r.rps / bare[i].rps);
  const cpuBase = median(bare.map((r) => r.cpu));
  const cpuRatios = (runs) => runs.map((r, i) => r.cpu / bare[i].cpu);
  for (const [what, runs] of [['one destination delivering meanwhile', durable], ['no destination', alone]]) {
    const ratios = pairs(runs), ratio = median(ratios), deliveries = median(runs.map((r) => r.deliveries));
    report(`ingest, durable /collect (10-event batches, 50 connections; ${what})`,
      `${Math.round(median(runs.map((r) => r.rps)))} req/s${deliveries ? `; ${Math.round(deliveries)} deliveries/s meanwhile` : ''}`,
      `${Math.round(median(bare.map((r) => r.rps)))} req/s bare Express`,
      `${Math.round(ratio * 100)} % (rounds: ${ratios.map((x) => Math.round(x * 100)).join(', ')})`, '>= 70 %', ratio >= 0.7);
    const cpu = median(runs.map((r) => r.cpu)), cpuRatio = median(cpuRatios(runs));
    // Context: the goal's CPU figure is measured with the servers alive at once (sideBySide, below).
    report(`ingest CPU per request, all threads, one server after the other (${what})`, `${cpu.toFixed(3)} ms`, `${cpuBase.toFixed(3)} ms bare Express`,
      `${cpuRatio.toFixed(2)}x (rounds: ${cpuRatios(runs).map((x) => x.toFixed(2)).join(', ')})`, '(context)', undefined);
  }
  // Context, no goal: the goals above were set on numbered ids (bodyWithIds, above).
  for (const [what, runs] of [["the tag's event ids (time, then random bits)", tagIds], ['random event ids (UUIDs)', randomIds]]) {
    const ratios = pairs(runs), cpus = cpuRatios(runs);
    report(`ingest, SQLite, ${what}, no destination`, `${Math.round(median(runs.map((r) => r.rps)))} req/s at ${median(runs.map((r) => r.cpu)).toFixed(3)} ms CPU a request`,
      `${Math.round(median(bare.map((r) => r.rps)))} req/s at ${cpuBase.toFixed(3)} ms bare Express`,
      `${Math.round(median(ratios) * 100)} % (rounds: ${ratios.map((x) => Math.round(x * 100)).join(', ')}); CPU ${median(cpus).toFixed(2)}x (rounds: ${cpus.map((x) => x.toFixed(2)).join(', ')})`,
      '(context)', undefined);
  }
  const p99 = median(durable.map((r) => r.p99));
  report('ingest p99 latency (one destination delivering meanwhile)', `${p99} ms`, `${median(bare.map((r) => r.p99))} ms bare Express`, '-', '<= 50 ms', p99 <= 50);
  return p99;
}

// 2. Forwarding: one destination whose vendor answers after 100 ms.
async function forwarding() {
  const vendor = await startVendor(100);
  const total = QUICK ? 10_000 : 30_000;
  const c = await startCollector({ destinations: chaseTo(vendor), delivery: { concurrency: 200 } });
  const t0 = Date.now();
  await postEvents(c.url, total);
  let marks = [];
  for (;;) {
    const n = await deliveredCount(c.url);
    marks.push([Date.now(), n]);
    if (n >= total || Date.now() - t0 > 120_000) break;
    await sleep(100);
  }
  await c.stop();
  await vendor.close();
  // The steady rate between 10 % and 90 % delivered.
  const at = (f) => marks.find(([, n]) => n >= total * f);
  const [ta, na] = at(0.1), [tb, nb] = at(0.9) ?? marks.at(-1);
  const rate = ((nb - na) / (tb - ta)) * 1000;
  const ceiling = 200 / 0.1; // concurrency / vendor latency: what a perfect client could do
  report('forwarding to one destination (vendor answers after 100 ms, concurrency 200)', `${Math.round(rate)} deliveries/s`,
    `${ceiling} /s ceiling (200 in flight / 100 ms)`, `${Math.round((rate / ceiling) * 100)} %`, '>= 1000 /s', rate >= 1000);
}

// 2b. Four destinations, each fed 500 events a second: does the backlog grow?
async function fourDestinations() {
  const vendors = await Promise.all([0, 1, 2, 3].map(() => startVendor(100)));
  const [nd, imp, ch, cv] = vendors;
  const c = await startCollector({
    destinations: {
      nextdoor: { token: 'bench-secret', dataSourceId: 'bench-ds', baseUrl: nd.url, events: { purchase: 'purchase' } },
      impact: { accountSid: 'IRbench', authToken: 'bench-secret', campaignId: '1000', baseUrl: imp.url, events: { purchase: { eventTypeId: '1' } } },
      chase: { apiKey: 'bench-secret', baseUrl: ch.url, events: { purchase: 'purchase' } },
      convert: { accountId: '1', projectId: '2', trackBaseUrl: cv.url, configBaseUrl: cv.url, goals: { purchase: '100' } },
    },
  });
  const seconds = QUICK ? 10 : 20;
  const depth = async () => {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    return [...text.matchAll(/^tagrelay_queue_depth\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
  };
  const samples = [];
  const t0 = Date.now();
  for (let tick = 0; tick < seconds * 10; tick++) {
    await postEvents(c.url, 50, 50); // 50 events every 100 ms: 500 a second, each to 4 destinations
    if (tick % 10 === 9) samples.push(await depth());
    const wait = t0 + (tick + 1) * 100 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const fed = seconds * 500;
  const delivered = await deliveredCount(c.url);
  await c.stop();
  await Promise.all(vendors.map((v) => v.close()));
  const firstHalf = median(samples.slice(0, samples.length / 2));
  const secondHalf = median(samples.slice(samples.length / 2));
  const ok = secondHalf <= Math.max(2 * firstHalf, 2000); // under a second of input waiting, and not climbing
  report(`4 destinations, each fed 500 events/s for ${seconds} s (vendors answer after 100 ms)`,
    `queue depth ${firstHalf} then ${secondHalf} (median, 1st/2nd half)`, `${fed * 4} deliveries fed, ${delivered} done meanwhile`,
    `${((delivered / (fed * 4)) * 100).toFixed(0)} % delivered by the end`, 'backlog does not grow', ok);
}

/**
 * SQLite's ingest CPU a request, the goal's figure: bare Express, the collector with one destination delivering, the
 * collector with none, and a second bare Express (the control) alive at once, the same load turning between them every
 * 2 s, each turn's order mirrored (ABCD DCBA, so that a drift in the machine's speed falls on all alike), the servers
 * not measured frozen (SIGSTOP) so that they use no CPU meanwhile. A server's CPU is counted from its thaw to its
 * freeze, so what it catches up on after a freeze (vendor answers that arrived meanwhile) is its own. The order rotates
 * from round to round; after the warm-ups each server takes a turn that is not counted. A round's ratio is the CPU a
 * server used over its own turns, a request, over the first bare Express's in the same round; the second bare
 * Express's ratio (A/A) is the method's own bias and spread in the same rounds, and a run whose control is more than
 * 10 % off 1 cannot judge the goal. Measured one after the other (the ingest rows above), a server's CPU a request
 * moves by a fifth within tens of seconds on this shared machine, and the rounds of the delivering collector spread
 * from 1.11× to 1.69× in one run (BENCHMARKS.md, twenty-third to twenty-fifth stops).
 */
async function sideBySide() {
  const rounds = QUICK ? 3 : 5;
  const vendor = await startVendorProcess(100);
  const servers = [
    { name: 'bare Express', start: startBareExpress },
    { name: 'one destination delivering', start: () => startCollector({ destinations: chaseTo(vendor), delivery: OUTLAST_FREEZES }), delivers: true },
    { name: 'no destination', start: () => startCollector({}) },
    { name: 'bare Express again (A/A control)', start: startBareExpress },
  ];
  // A frozen collector's clock runs on: with the default 15-s timeout and 30-s lease, a server that warms up first (then
  // waits 30 s frozen while the others warm up) would find every request it had in flight timed out and every lease
  // run out at its thaw, though the vendor answered in 100 ms, and send them again: work that only the freeze makes.
  // Its longest freeze is the other servers' warm-ups; a timeout and lease longer than that keep the collector's work
  // what it is when it runs for days (each request still has its timer).
  const OUTLAST_FREEZES = { timeoutMs: (servers.length - 1) * WARMUP * 1000 + 15_000, leaseMs: (servers.length - 1) * WARMUP * 1000 + 20_000 };
  const runs = await alternate(rounds, servers);
  await vendor.stop();
  const pick = (k, f) => median(runs.map((r) => f(r[k])));
  const ratios = (k) => runs.map((r) => r[k].cpu / r[0].cpu);
  const ratioText = (k) => `${median(ratios(k)).toFixed(2)}x (rounds: ${ratios(k).map((x) => x.toFixed(2)).join(', ')})`;
  const baseline = `${pick(0, (r) => r.cpu).toFixed(3)} ms (${Math.round(pick(0, (r) => r.rps))} req/s) bare Express`;
  const control = median(ratios(3));
  const controlOk = Math.abs(control - 1) <= 0.1;
  for (const k of [1, 2]) {
    const deliveries = servers[k].delivers
      ? `; ${Math.round(pick(k, (r) => r.deliveries))} deliveries/s meanwhile, failed attempts in its turns: ${runs.map((r) => r[k].failed).join(', ')}`
      : '';
    report(
      `ingest CPU per request, all threads, servers alive at once, the load turning every 2 s (${servers[k].name})`,
      `${pick(k, (r) => r.cpu).toFixed(3)} ms (${Math.round(pick(k, (r) => r.rps))} req/s${deliveries})`,
      baseline,
      ratioText(k),
      '<= 1.3x, the A/A control within 10 %',
      median(ratios(k)) <= 1.3 && controlOk,
    );
  }
  report(
    "the same rounds, a second bare Express (A/A control: the method's own bias)",
    `${pick(3, (r) => r.cpu).toFixed(3)} ms (${Math.round(pick(3, (r) => r.rps))} req/s)`,
    baseline,
    ratioText(3),
    '0.9x to 1.1x',
    controlOk,
  );
}

/**
 * `rounds` rounds of `servers` alive at once, the load turning between them (see sideBySide). Returns, for each round,
 * each server's CPU ms a request and requests/s over its measured turns and (`delivers`: a collector whose /metrics is
 * read at the end of each of its turns) its deliveries a second of its own turns and its failed attempts in them.
 */
async function alternate(rounds, servers) {
  const TURN_S = 2;
  const CYCLES = 2; // each a turn of every server in order, then in reverse order
  const out = [];
  for (let i = 0; i < rounds; i++) {
    const running = [];
    for (const s of servers) running.push(await s.start());
    const totals = servers.map(() => ({ requests: 0, cpu: 0, delivered: 0, failed: 0, seconds: 0 }));
    for (const s of running) process.kill(s.pid, 'SIGSTOP');
    /** A delivering server's counts at the end of its last turn: what it does at its thaw (answers that arrived while
     * it was frozen, requests that timed out meanwhile) falls in the turn that follows. */
    const lastCounts = [];
    /** Runs the load on server `k` alone for `seconds`, the others frozen; counted unless it is a warm-up. */
    const turn = async (k, seconds, counted = true) => {
      const s = running[k];
      const cpu0 = s.cpuMs();
      process.kill(s.pid, 'SIGCONT');
      const r = await load(s, seconds);
      const d = servers[k].delivers ? await deliveryCounts(s.url) : undefined;
      process.kill(s.pid, 'SIGSTOP');
      await sleep(20);
      const d0 = lastCounts[k];
      lastCounts[k] = d;
      if (!counted) return;
      totals[k].requests += r.requests;
      totals[k].cpu += s.cpuMs() - cpu0;
      if (d0 && d) {
        totals[k].delivered += d.delivered - d0.delivered;
        totals[k].failed += d.failed - d0.failed;
      }
      totals[k].seconds += seconds;
    };
    // The order rotates from round to round: each server in turn warms up last and takes the first turn.
    const order = servers.map((_, k) => (k + i) % servers.length);
    try {
      for (const k of order.toReversed()) await turn(k, WARMUP, false);
      // Then a turn each, not counted, in the order of the counted turns: a server's first counted turn follows no
      // longer a freeze than its others do (up to 30 s after the warm-ups otherwise). A server that resumes from a long
      // freeze starts with a full garbage collection (V8's memory reducer falls due), and bare Express read higher in
      // the rounds in which it had warmed up first (BENCHMARKS.md, twenty-ninth stop).
      for (const k of order) await turn(k, TURN_S, false);
      for (let c = 0; c < CYCLES; c++) for (const k of [...order, ...order.toReversed()]) await turn(k, TURN_S);
    } finally {
      // A server that died is left to the error that stopped the turns (kill would throw ESRCH over it).
      for (const s of running) if (s.alive()) process.kill(s.pid, 'SIGCONT');
    }
    for (const s of running) await s.stop();
    out.push(totals.map((x) => ({ cpu: x.cpu / x.requests, rps: x.requests / x.seconds, deliveries: x.delivered / x.seconds, failed: x.failed })));
  }
  return out;
}

// 3. Backlog: ingest p99 with 1,000,000 queued deliveries, and memory while draining.
async function backlog(emptyP99) {
  const vendor = await startVendor(0);
  // Preload the store: start once to create the schema, stop, insert the backlog, start again.
  const first = await startCollector({ destinations: chaseTo(vendor) });
  await first.stop();
  const db = new Database(join(first.dataDir, 'tagrelay.db'));
  db.pragma('journal_mode = WAL');
  const ev = db.prepare('INSERT INTO events (id, name, received_at, body) VALUES (?, ?, ?, ?)');
  const dl = db.prepare('INSERT INTO deliveries (event_seq, destination, created_at, updated_at, next_at) VALUES (?, ?, ?, ?, ?)');
  const now = Date.now();
  const t0 = Date.now();
  db.transaction(() => {
    for (let i = 0; i < BACKLOG; i++) {
      const e = purchase();
      e.context = { ip: '127.0.0.1', userAgent: 'bench', receivedAt: now };
      const { lastInsertRowid } = ev.run(e.id, e.name, now, JSON.stringify(e));
      dl.run(lastInsertRowid, 'chase', now, now, now);
    }
  })();
  // The collector counts the deliveries it creates; these were written behind its back.
  db.prepare(`INSERT OR REPLACE INTO delivery_counts (destination, state, n) VALUES ('chase', 'pending', ?)`).run(BACKLOG);
  db.close();
  console.log(`      (preloaded ${BACKLOG} deliveries in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const c = await startCollector({ destinations: chaseTo(vendor) }, first.dataDir);
  // Warmed as the empty-queue baseline is, so that a round does not measure the collector compiling its code
  // against a warm baseline.
  await load(c, WARMUP);
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await load(c));
  const p99 = median(runs.map((r) => r.p99));
  report(`ingest p99 with ${BACKLOG.toLocaleString('en')} queued deliveries (draining meanwhile)`, `${p99} ms`, `${emptyP99} ms with an empty queue`,
    `${(p99 / emptyP99).toFixed(2)}x`, '<= 2x', p99 <= 2 * emptyP99);
  const start = await deliveredCount(c.url);
  const t1 = Date.now();
  let drainPeak = 0;
  while (Date.now() - t1 < (QUICK ? 10_000 : 30_000)) {
    drainPeak = Math.max(drainPeak, c.memory().rssMb);
    await sleep(250);
  }
  const drained = (await deliveredCount(c.url)) - start;
  const lifetimePeak = c.memory().peakMb;
  await c.stop();
  await vendor.close();
  report('memory (RSS) while draining the backlog', `${Math.round(drainPeak)} MB at most`,
    `drained ${Math.round(drained / ((Date.now() - t1) / 1000))} deliveries/s meanwhile; lifetime peak ${Math.round(lifetimePeak)} MB, ingest load included`,
    '-', '< 300 MB', drainPeak < 300 && lifetimePeak < 300);
}

// BENCH_ONLY=sqlite or BENCH_ONLY=postgres runs one half; BENCH_ONLY=sqlite-cpu only SQLite's CPU a request (sideBySide).
const only = process.env.BENCH_ONLY;
if (only === 'sqlite-cpu') await sideBySide();
else if (only !== 'postgres') {
  const emptyP99 = await ingest();
  await sideBySide();
  await forwarding();
  await fourDestinations();
  await backlog(emptyP99);
}
if (only !== 'sqlite' && only !== 'sqlite-cpu') await postgresBenchmarks({ load, withDeliveries, newVisitorBody, randomIdsBody, report, median, sleep, QUICK, ROUNDS, INGEST_ROUNDS, BACKLOG, WARMUP });
console.log('\n| benchmark | figure | baseline (same run) | ratio | goal | |\n|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.figure} | ${r.baseline} | ${r.ratio} | ${r.goal} | ${r.ok === undefined ? '' : r.ok ? 'met' : 'NOT met'} |`);
process.exitCode = results.every((r) => r.ok !== false) ? 0 : 1;
