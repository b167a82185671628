import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chase } from '../destinations/chase/index.js';
import { createLogger } from '../log.js';
import { SqliteStore } from '../store/sqlite.js';
import { Lane, type LaneOptions } from './lane.js';
import { Sender } from './send.js';

/** A vendor stand-in: answers after `latencyMs` with what `answer` says for each request body. */
class Vendor {
  received: { at: number; body: string }[] = [];
  answer: (body: string) => number = () => 202;
  /** The body of every answer. */
  answerBody = '{}';
  latencyMs = 20;
  url = '';
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        this.received.push({ at: Date.now(), body });
        const status = this.answer(body);
        setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(this.answerBody), this.latencyMs);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const options: LaneOptions = {
  concurrency: 64,
  pollMs: 50,
  maxAgeMs: 3_600_000,
  maxAttempts: 1000,
  baseBackoffMs: 1000,
  maxBackoffMs: 900_000,
  maxProbeIntervalMs: 10_000,
  leaseMs: 60_000,
};

async function setUp(n: number, opts: Partial<LaneOptions> = {}, destinations = ['chase']) {
  const vendor = await new Vendor().start();
  cleanup.push(() => vendor.close());
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-lane-'));
  const store = new SqliteStore(join(dir, 't.db'), { thread: false });
  cleanup.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const destination = chase.create(chase.settings.parse({ apiKey: 'lane-key', baseUrl: vendor.url, events: { sign_up: 'sign-up' } }));
  const sender = new Sender('chase', { connections: 64, timeoutMs: 5000 });
  cleanup.push(() => sender.close());
  const lane = new Lane(destination, store, sender, { ...options, ...opts }, createLogger([], () => {}), (t) => t);
  cleanup.push(() => lane.stop(1000));
  const now = Date.now();
  await store.ingest(
    Array.from({ length: n }, (_, i) => ({
      event: { id: `evt-lane-${String(i).padStart(5, '0')}`, name: 'sign_up', time: now, properties: { user_data: { email: `p${i}@example.com` } } },
      context: { receivedAt: now },
      destinations,
    })),
  );
  const delivered = async () => (await store.stats()).find((s) => s.destination === 'chase')?.delivered ?? 0;
  return { vendor, store, lane, delivered, destination };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** The outage the first test makes: 8 s; TAGRELAY_OUTAGE_MS=60000 measures the minute-long case (BENCHMARKS.md). */
const OUTAGE_MS = Number(process.env.TAGRELAY_OUTAGE_MS) || 8000;

describe('Lane', () => {
  it('counts an outage that caught a full window once, and catches up within seconds of the recovery', async () => {
    const { vendor, lane, delivered } = await setUp(600);
    vendor.latencyMs = 100;
    let down = false;
    vendor.answer = () => (down ? 503 : 202);
    lane.start();
    // The vendor goes down with a full window (64 requests) in flight.
    await until(async () => vendor.received.length >= 64, 5000);
    down = true;
    const outageStart = Date.now();
    // The window in flight succeeds (the vendor answers as it was when a request arrived); the next window,
    // sent at once, fails whole: one failure. Then probes, one at a time (full jitter: the first may be quick),
    // each failure counted. Counting each request of the window would make the count the number of failures.
    await new Promise((r) => setTimeout(r, 800));
    await until(async () => lane.status().inFlight === 0, 2000);
    const during = lane.status();
    const failed = vendor.received.filter((r) => r.at >= outageStart).length;
    expect(during.state).toBe('backing-off');
    expect(failed).toBeGreaterThan(40);
    expect(during.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(during.consecutiveFailures).toBeLessThan(failed / 4);
    await new Promise((r) => setTimeout(r, Math.max(0, outageStart + OUTAGE_MS - Date.now())));
    down = false;
    const recovered = Date.now();
    const requestsDuringOutage = vendor.received.filter((r) => r.at >= outageStart && r.at < recovered).length;

    expect(await until(async () => (await delivered()) === 600, 15_000)).toBe(true);
    const caughtUpIn = Date.now() - recovered;
    if (process.env.TAGRELAY_OUTAGE_MS) console.log(`outage ${OUTAGE_MS} ms: ${requestsDuringOutage} requests while down, caught up ${caughtUpIn} ms after recovery`);
    // Bounded while down: the window in flight, then one probe at a time (at least a second apart at first, then up to 10 s).
    expect(requestsDuringOutage).toBeLessThan(64 + 8 + OUTAGE_MS / 1000);
    // the next probe comes at most maxProbeIntervalMs after the recovery; then 536 left at 64 in flight, 100 ms each
    expect(caughtUpIn).toBeLessThan(options.maxProbeIntervalMs + 3_000);
    expect(lane.status()).toMatchObject({ state: 'active', consecutiveFailures: 0 });
  }, 40_000 + OUTAGE_MS);

  it('waits for a free slot through stored events, and wakes at once when a request ends or new work is stored', async () => {
    // A poll a minute apart: within this test only wake-ups move the lane.
    const { vendor, store, lane, delivered } = await setUp(5, { concurrency: 1, pollMs: 60_000 });
    vendor.latencyMs = 100;
    lane.start();
    // Events stored meanwhile (the engine's notify, every 5 ms) neither send past the one slot nor stop the request that
    // ends from waking the lane for the next.
    const inFlight: number[] = [];
    const storing = setInterval(() => {
      lane.notify();
      inFlight.push(lane.status().inFlight);
    }, 5);
    const ok = await until(async () => (await delivered()) === 5, 5000);
    clearInterval(storing);
    expect(ok).toBe(true);
    expect(Math.max(...inFlight)).toBe(1);
    const at = vendor.received.map((r) => r.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(90);
    // Waiting for work now: an event stored is sent at once, not at the next poll.
    const now = Date.now();
    await store.ingest([
      { event: { id: 'evt-lane-late', name: 'sign_up', time: now, properties: { user_data: { email: 'late@example.com' } } }, context: { receivedAt: now }, destinations: ['chase'] },
    ]);
    lane.notify();
    expect(await until(async () => (await delivered()) === 6, 3000)).toBe(true);
  });

  it('sends nothing whose lease could run out before the answer: a slow step before the request sends it at its next claim, once', async () => {
    // The sender's timeout is 5 s and the lease 5.3 s; the vendor answers after 3 s. The first claim's mapping takes
    // 3.5 s: sent then, its requests would still be out when the lease ends (6.5 s), and be claimed and sent again.
    const { vendor, store, lane, delivered, destination } = await setUp(3, { leaseMs: 5_300 });
    vendor.latencyMs = 3_000;
    const map = destination.map.bind(destination);
    let slow = 1;
    destination.map = async (event) => {
      if (slow-- > 0) await new Promise((r) => setTimeout(r, 3_500));
      return map(event);
    };
    lane.start();
    expect(await until(async () => (await delivered()) === 3, 20_000)).toBe(true);
    // A lease that ran out would have had its delivery claimed and sent again meanwhile.
    await new Promise((r) => setTimeout(r, 1000));
    expect(vendor.received).toHaveLength(3);
    expect(await store.eventDeliveries(['evt-lane-00000'])).toMatchObject([{ state: 'delivered', attempts: 1 }]);
  }, 30_000);

  it('a vendor that fails one event only: that one keeps its own backoff, the others flow', async () => {
    const { vendor, store, lane, delivered } = await setUp(200, { baseBackoffMs: 400 });
    vendor.answer = (body) => (body.includes('p7@example.com') ? 500 : 202);
    lane.start();
    expect(await until(async () => (await delivered()) === 199, 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    const tries = vendor.received.filter((r) => r.body.includes('p7@example.com')).length;
    // Backoff doubling from 400 ms (full jitter) allows a handful of tries in ~4 s, not one per probe.
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(8);
    expect((await store.stats())[0]).toMatchObject({ delivered: 199, pending: 1 });
  }, 20_000);

  it('gives up on a delivery older than maxAgeMs: a dead letter with its last status and the vendor\'s answer, long before maxAttempts', async () => {
    // Retried while young (a probe every 100-300 ms), dead at its first failure past 2 s; maxAttempts is 1000.
    const { vendor, store, lane } = await setUp(1, { maxAgeMs: 2_000, baseBackoffMs: 100, maxProbeIntervalMs: 300 });
    vendor.answer = () => 503;
    vendor.answerBody = '{"detail":"upstream maintenance"}';
    lane.start();
    const deliveryOf = async () => (await store.eventDeliveries(['evt-lane-00000']))[0]!;
    // Young, it stays pending and is tried again.
    expect(await until(async () => (await deliveryOf()).attempts >= 2, 1_500)).toBe(true);
    const young = await deliveryOf();
    expect(young.updatedAt - young.createdAt).toBeLessThan(2_000);
    expect(young.state).toBe('pending');

    expect(await until(async () => (await deliveryOf()).state === 'dead', 12_000)).toBe(true);
    const dead = await deliveryOf();
    expect(dead.updatedAt - dead.createdAt).toBeGreaterThanOrEqual(2_000);
    expect(dead.attempts).toBeGreaterThanOrEqual(2);
    expect(dead.attempts).toBeLessThan(options.maxAttempts);
    expect(dead.status).toBe(503);
    expect(dead.detail).toBe(
      `gave up after ${dead.attempts} attempts: chase (POST ${vendor.url}/api/v2/conversions): 503 vendor asked to retry: {"detail":"upstream maintenance"}`,
    );
    expect(dead.request).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/v2\/conversions\n/);
    // A dead letter is not tried again.
    const sent = vendor.received.length;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(vendor.received).toHaveLength(sent);
    expect((await store.stats())[0]).toMatchObject({ dead: 1, pending: 0 });
  }, 25_000);

  it('records a refused request masked in full, and a delivered one as its first line even while another destination still waits', async () => {
    // 'later' is a second destination of every event that no lane serves here: its deliveries stay pending.
    const { vendor, store, lane, delivered } = await setUp(3, {}, ['chase', 'later']);
    vendor.answer = (body) => (body.includes('p1@example.com') ? 400 : 202);
    lane.start();
    expect(await until(async () => (await delivered()) === 2, 10_000)).toBe(true);
    await until(async () => (await store.recentDeliveries(10)).some((d) => d.state === 'rejected'), 5000);
    const chaseDeliveries = (await store.recentDeliveries(10)).filter((d) => d.destination === 'chase');
    const refused = chaseDeliveries.find((d) => d.state === 'rejected')!;
    expect(refused.request).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/v2\/conversions\n/);
    expect(refused.request).toContain('[personal data]');
    expect(refused.request).not.toContain('p1@example.com');
    for (const d of chaseDeliveries.filter((x) => x.state === 'delivered')) {
      expect(d.request).toBe(`POST ${vendor.url}/api/v2/conversions [body removed after delivery]`);
    }
  });
});
