// Lanes of several collectors on one PostgreSQL store: the destination's state is the fleet's.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../e2e/postgres.js';
import { chase } from '../destinations/chase/index.js';
import { createLogger } from '../log.js';
import { PostgresStore } from '../store/postgres.js';
import { Lane, type LaneOptions } from './lane.js';
import { Sender } from './send.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A vendor stand-in: answers `status()` after `latencyMs`, recording when each request came and for which email. */
async function vendor(latencyMs: number) {
  const received: { at: number; email: string }[] = [];
  const v = { received, status: () => 202, url: '' };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      received.push({ at: Date.now(), email: (JSON.parse(body) as { email: string }).email });
      const status = v.status();
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end('{}'), latencyMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  v.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return v;
}

const options: LaneOptions = {
  concurrency: 8,
  pollMs: 50,
  maxAgeMs: 3_600_000,
  maxAttempts: 1000,
  baseBackoffMs: 100,
  maxBackoffMs: 60_000,
  maxProbeIntervalMs: 500,
  leaseMs: 10_000,
};

/** `n` collectors' lanes for one Chase destination, each on its own connection pool to one database. */
async function fleet(n: number, url: string, events: number) {
  const v = await vendor(50);
  const destination = chase.create(chase.settings.parse({ apiKey: 'fleet-key-0001', baseUrl: v.url, events: { sign_up: 'sign-up' } }));
  const lanes: Lane[] = [];
  const stores: PostgresStore[] = [];
  for (let i = 0; i < n; i++) {
    const store = await PostgresStore.open(url, { owner: `collector-${i}` });
    const sender = new Sender('chase', { connections: 8, timeoutMs: 5000 });
    const lane = new Lane(destination, store, sender, options, createLogger([], () => {}), (t) => t);
    cleanup.push(() => store.close(), () => sender.close(), () => lane.stop(1000));
    lanes.push(lane);
    stores.push(store);
  }
  const now = Date.now();
  await stores[0]!.ingest(
    Array.from({ length: events }, (_, i) => ({
      event: { id: `evt-fleet-${String(i).padStart(5, '0')}`, name: 'sign_up', time: now, properties: { user_data: { email: `p${i}@example.com` } } },
      context: { receivedAt: now },
      destinations: ['chase'],
    })),
  );
  const delivered = async () => (await stores[0]!.stats()).find((s) => s.destination === 'chase')?.delivered ?? 0;
  return { vendor: v, lanes, stores, delivered };
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Requests a vendor gets while down for `outageMs`, after the windows in flight at its start came back. */
async function probesDuringOutage(collectors: number, outageMs: number) {
  const db = await testDatabase();
  cleanup.push(() => db.drop());
  const { vendor: v, lanes, delivered } = await fleet(collectors, db.url, 500);
  for (const lane of lanes) lane.start();
  await until(() => v.received.length >= 50, 5000);
  let down = true;
  v.status = () => (down ? 503 : 202);
  const start = Date.now();
  await new Promise((r) => setTimeout(r, outageMs));
  down = false;
  const probes = v.received.filter((r) => r.at >= start + 1000 && r.at < start + outageMs).length;
  expect(await until(async () => (await delivered()) === 500, 30_000)).toBe(true);
  const counts = new Map<string, number>();
  for (const r of v.received) counts.set(r.email, (counts.get(r.email) ?? 0) + 1);
  await until(() => lanes.every((l) => l.status().state === 'active'), 5000);
  return { probes, lanes, counts, sent: v.received.length };
}

describe('lanes of a fleet (PostgreSQL)', () => {
  it('three collectors probe a vendor that is down about as often as one does, and all resume when it is back', async () => {
    const one = await probesDuringOutage(1, 5000);
    const three = await probesDuringOutage(3, 5000);
    console.log(`probes while down (after the first second): one collector ${one.probes}, three collectors ${three.probes}`);
    // Backoff with full jitter capped at 500 ms, each probe answered after 50 ms: about 12 probes in 4 s for one
    // collector (fewer on a busy machine). Three collectors each probing on their own would send three times as
    // many; sharing, they send about as many (a little more when a collector reads the new state late).
    // More than 4 (11 to 15 in CI runs), so that the bound below stays under three times it: three collectors
    // probing on their own fail it.
    expect(one.probes).toBeGreaterThan(4);
    expect(three.probes).toBeLessThanOrEqual(Math.max(one.probes * 2, one.probes + 8));
    for (const lane of three.lanes) expect(lane.status()).toMatchObject({ state: 'active', consecutiveFailures: 0 });
    // Everything delivered; repeats only for the requests in flight as the outage began (none here: the vendor answers every request).
    expect(three.counts.size).toBe(500);
  }, 90_000);

  it('a refused key pauses every collector of the fleet', async () => {
    const db = await testDatabase();
    cleanup.push(() => db.drop());
    const { vendor: v, lanes, stores } = await fleet(2, db.url, 200);
    v.status = () => 401;
    lanes[0]!.start();
    const shared = async () => (await stores[1]!.fleet.status(60_000)).lanes[0]?.state;
    expect(await until(async () => (await shared()) === 'paused', 10_000)).toBe(true);
    lanes[1]!.start();
    expect(await until(() => lanes[1]!.status().state === 'paused', 5000)).toBe(true);
    // The second collector learnt it from the store: it sent nothing of its own.
    const sent = v.received.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(v.received.length).toBe(sent);
    expect(sent).toBeLessThanOrEqual(options.concurrency);
  }, 30_000);
});
