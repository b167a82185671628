// Retention as the running collector applies it: each of retention's settings, read from the config,
// deletes what it names at the collector's start (and every 10 minutes after), on a real SQLite store,
// with Chase's stand-in answering the deliveries.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { waitFor } from '../../../e2e/collector.js';
import { startChase } from '../../../e2e/vendors/chase.js';
import { createCollector } from '../app.js';
import { parseConfig } from '../config.js';
import { createLogger } from '../log.js';
import { SqliteStore } from '../store/sqlite.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

it("a running collector deletes delivered events, id conflicts, dead letters and events no destination takes after retention's settings, each its own", async () => {
  const vendor = await startChase('chase-retention-key');
  cleanup.push(() => vendor.close());
  // The vendor refuses one event for good (a dead letter) and takes the others.
  vendor.override = (req) => (req.body.includes('evt-ret-refused') ? { status: 400, body: { error: 'bad email' } } : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-retention-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 't.db');
  const chase = { apiKey: 'chase-retention-key', baseUrl: vendor.url, events: { sign_up: 'sign-up' } };

  const start = async (retention: Record<string, number>) => {
    const lines: string[] = [];
    const config = parseConfig({ store: `sqlite:${path}`, retention, destinations: { chase }, delivery: { pollMs: 50 } }, {});
    const collector = await createCollector(config, { log: createLogger([], (l) => lines.push(l)) });
    const server = createServer(collector.handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stop = async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await collector.close(1000);
    };
    return { url, collector, lines, stop };
  };
  /** The ids stored now (the collector stopped), and of the id conflicts kept. */
  const stored = async () => {
    const store = new SqliteStore(path, { thread: false });
    try {
      return { events: (await store.recentEvents(100)).map((e) => e.id).sort(), conflicts: (await store.recentConflicts(10)).map((c) => c.eventId) };
    } finally {
      await store.close();
    }
  };

  const first = await start({});
  first.collector.engine.start();
  const event = (id: string, name: string) => ({ id, name, time: Date.now(), properties: { user_data: { email: `${id}@example.com` } } });
  const res = await fetch(`${first.url}/collect`, {
    method: 'POST',
    body: JSON.stringify({ v: 1, events: [event('evt-ret-delivered', 'sign_up'), event('evt-ret-refused', 'sign_up'), event('evt-ret-unrouted', 'page_view')] }),
  });
  expect(await res.json()).toMatchObject({ stored: 3 });
  await waitFor(() => vendor.requests.length >= 2, 10_000, 'both sign-ups answered');
  // The delivered event's id again, with other content: an id conflict, kept for /debug.
  const again = await fetch(`${first.url}/collect`, { method: 'POST', body: JSON.stringify({ v: 1, events: [event('evt-ret-delivered', 'page_view')] }) });
  expect(await again.json()).toMatchObject({ conflicts: [{ id: 'evt-ret-delivered' }] });
  await first.stop();
  expect(await stored()).toEqual({ events: ['evt-ret-delivered', 'evt-ret-refused', 'evt-ret-unrouted'], conflicts: ['evt-ret-delivered'] });

  // Tenths of a second: by the next start everything is older than each setting that is this short.
  const short = 1 / 864_000; // days: 0.1 s
  await new Promise((r) => setTimeout(r, 300));

  /** A start with these settings (the others their defaults): its purge at start, then stopped. */
  const purgeWith = async (retention: Record<string, number>) => {
    const c = await start(retention);
    c.collector.engine.start();
    await waitFor(() => c.lines.some((l) => l.includes('purged old events')), 10_000, 'the purge');
    await c.stop();
  };

  // A short retention.unroutedHours takes the event no destination took, and nothing else.
  await purgeWith({ unroutedHours: short * 24 });
  expect(await stored()).toEqual({ events: ['evt-ret-delivered', 'evt-ret-refused'], conflicts: ['evt-ret-delivered'] });

  // A short retention.deliveredDays takes the delivered event and the id conflict (an event no destination
  // took would go then too, whichever comes first); the dead letter stays.
  await purgeWith({ deliveredDays: short });
  expect(await stored()).toEqual({ events: ['evt-ret-refused'], conflicts: [] });

  // The dead letter stays for tagrelay replay until retention.deadLetterDays after it was given up (and
  // retention.deliveredDays after it arrived); then it goes.
  await purgeWith({ deliveredDays: short, deadLetterDays: short });
  expect(await stored()).toEqual({ events: [], conflicts: [] });
}, 60_000);
