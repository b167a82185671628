// The collector in this process, on a real SQLite store and a real HTTP server, with the disk's free
// space read through a reader the test controls (a full disk cannot be made safely on a shared machine).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector, type Collector } from '../app.js';
import { parseConfig } from '../config.js';
import { createLogger } from '../log.js';
import { printStatus } from '../operator.js';
import { startChase } from '../../../e2e/vendors/chase.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(
  limits: Record<string, unknown>,
  freeBytes: { value: number },
  destinations: Record<string, unknown> = {},
  dir = mkdtempSync(join(tmpdir(), 'tagrelay-admission-')),
) {
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const config = parseConfig({ store: `sqlite:${join(dir, 't.db')}`, limits, destinations, delivery: { pollMs: 50, baseBackoffMs: 100, maxProbeIntervalMs: 300 } }, {});
  const collector: Collector = await createCollector(config, {
    log: createLogger([], (l) => lines.push(l)),
    freeSpace: async () => ({ free: freeBytes.value, total: 100 * 1024 ** 3 }),
  });
  cleanup.push(() => collector.close(1000));
  const server: Server = createServer(collector.handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (id: string, name = 'page_view') =>
    fetch(`${url}/collect`, {
      method: 'POST',
      body: JSON.stringify({ v: 1, events: [{ id, name, time: Date.now(), properties: { user_data: { email: `${id}@example.com` } } }] }),
    });
  return { url, post, lines, collector };
}

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
};

describe('admission: the disk floor and the queue cap', () => {
  it('below the free-space floor /collect answers 503 with Retry-After, /readyz is not ready and /healthz says not taking events; it recovers by itself', async () => {
    const free = { value: 50 * 1024 ** 3 };
    const c = await start({ minFreeBytes: 2 * 1024 ** 3 }, free);
    expect((await c.post('evt-disk-00001')).status).toBe(200);

    free.value = 1 * 1024 ** 3; // the disk fills up
    expect(await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 503)).toBe(true);
    const refused = await c.post('evt-disk-00002');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect((await refused.json()).error).toMatch(/the store's disk has 1024 MB free, below the floor of 2048 MB/);
    expect(c.lines.join('\n')).toMatch(/"msg":"not taking events"/);
    const health = await fetch(`${c.url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'not taking events', destinations: [] }]);

    free.value = 40 * 1024 ** 3; // room again
    expect(await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 200)).toBe(true);
    expect((await c.post('evt-disk-00003')).status).toBe(200);
    expect(await (await fetch(`${c.url}/healthz`)).json()).toEqual({ status: 'ok', destinations: [] });
    // What was acknowledged before is untouched.
    const again = await fetch(`${c.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events: [{ id: 'evt-disk-00001', name: 'page_view', time: 1795344440021 }] }) });
    expect(await again.json()).toMatchObject({ stored: 0, conflicts: [{ id: 'evt-disk-00001' }] });
  });

  it('the default floor is the larger of 1 GB and 5 % of the disk', async () => {
    const free = { value: 4 * 1024 ** 3 }; // 4 GB of a 100 GB disk: under 5 %
    const c = await start({}, free);
    const res = await c.post('evt-disk-00010');
    expect(res.status).toBe(503);
    expect((await res.json()).error).toMatch(/below the floor of 5120 MB/);
  });

  it('above the queue-depth cap /collect answers 503 until the queue drains', async () => {
    const vendor = await startChase('chase-admission-key');
    cleanup.push(() => vendor.close());
    vendor.override = () => ({ status: 503, body: {} }); // the vendor is down: deliveries wait
    const chase = { apiKey: 'chase-admission-key', baseUrl: vendor.url, events: { sign_up: 'sign-up' } };
    const c = await start({ maxQueueDepth: 2 }, { value: 50 * 1024 ** 3 }, { chase });
    c.collector.engine.start();
    for (const id of ['evt-queue-00001', 'evt-queue-00002', 'evt-queue-00003']) expect((await c.post(id, 'sign_up')).status).toBe(200);
    expect(await waitFor(async () => (await c.post('evt-queue-00009', 'sign_up')).status === 503)).toBe(true);
    expect((await (await fetch(`${c.url}/readyz`)).json()).reason).toMatch(/\d deliveries are waiting, above limits.maxQueueDepth \(2\)/);
    vendor.override = undefined; // back: the queue drains
    expect(await waitFor(async () => (await c.post('evt-queue-00010', 'sign_up')).status === 200, 15_000)).toBe(true);
  }, 30_000);

  it('deliveries kept for a destination taken out of the config count toward no cap, the start and tagrelay status say they wait, and configured again it sends each once', async () => {
    const vendor = await startChase('chase-removed-key');
    cleanup.push(() => vendor.close());
    vendor.override = () => ({ status: 503, body: {} }); // down: the deliveries wait
    const dir = mkdtempSync(join(tmpdir(), 'tagrelay-admission-'));
    const chase = { apiKey: 'chase-removed-key', baseUrl: vendor.url, events: { sign_up: 'sign-up' } };
    const first = await start({}, { value: 50 * 1024 ** 3 }, { chase }, dir);
    for (const id of ['evt-gone-00001', 'evt-gone-00002', 'evt-gone-00003'])
      expect((await first.post(id, 'sign_up')).status).toBe(200);
    await first.collector.close(1000);

    // Chase is taken out of the config; the cap is below what waits for it.
    const second = await start({ maxQueueDepth: 2 }, { value: 50 * 1024 ** 3 }, {}, dir);
    expect((await second.post('evt-gone-00004', 'sign_up')).status).toBe(200);
    expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
    const warning = second.lines
      .map((l) => JSON.parse(l) as { msg: string; waiting?: unknown })
      .find((l) => l.msg.startsWith('deliveries wait for destinations'));
    expect(warning?.waiting).toEqual({ chase: 3 });
    // tagrelay status lists them under the name the config no longer has.
    const status: string[] = [];
    await printStatus(parseConfig({ store: `sqlite:${join(dir, 't.db')}`, destinations: {} }, {}), undefined, (l) => status.push(l));
    expect(status.find((l) => l.startsWith('chase'))).toMatch(/^chase\s+not configured\s+3\b/);
    // Kept: configured again, Chase's deliveries count toward the cap again ...
    await second.collector.close(1000);
    const third = await start({ maxQueueDepth: 2 }, { value: 50 * 1024 ** 3 }, { chase }, dir);
    expect((await third.post('evt-gone-00005', 'sign_up')).status).toBe(503);
    // ... and are picked up where they were left: the vendor is back and receives each of them once.
    vendor.override = undefined;
    const before = vendor.requests.length;
    third.collector.engine.start();
    const sent = () => vendor.requests.slice(before).map((r) => (JSON.parse(r.body) as { email: string }).email).sort();
    expect(await waitFor(async () => sent().length >= 3, 15_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500)); // nothing more comes
    expect(sent()).toEqual(['evt-gone-00001@example.com', 'evt-gone-00002@example.com', 'evt-gone-00003@example.com']);
  }, 40_000);
});
