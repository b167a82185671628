import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../event.js';
import { SqliteStore } from './sqlite.js';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tagrelay-store-'));
  store = new SqliteStore(join(dir, 't.db'), { thread: false });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (id: string, receivedAt = Date.now()): StoredEvent => ({
  id,
  name: 'purchase',
  time: receivedAt,
  properties: { value: 1, user_data: { email: 'a@b.example' } },
  context: { receivedAt },
});

describe('SqliteStore', () => {
  it('stores an event id once, with one delivery per destination', async () => {
    expect(await store.ingest([{ event: event('evt-00000001'), destinations: ['a', 'b'] }])).toEqual({
      stored: 1,
      duplicates: 0,
    });
    expect(await store.ingest([{ event: event('evt-00000001'), destinations: ['a', 'b'] }])).toEqual({
      stored: 0,
      duplicates: 1,
    });
    expect(await store.queueDepth()).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    );
  });

  it('counts new deliveries exactly in a store made by an earlier version (which counted them by trigger)', async () => {
    await store.close();
    const old = new Database(join(dir, 't.db'));
    old.exec(`CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries BEGIN
      INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
        ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
    END;`);
    old.close();
    store = new SqliteStore(join(dir, 't.db'), { thread: false });
    await store.ingest([1, 2, 3].map((i) => ({ event: event(`evt-0000000${i}`), destinations: ['a', 'b'] })));
    expect(await store.queueDepth()).toEqual(
      new Map([
        ['a', 3],
        ['b', 3],
      ]),
    );
  });

  it('leases a claimed delivery until it is reported, then counts it by its new state', async () => {
    await store.ingest([1, 2, 3].map((i) => ({ event: event(`evt-0000000${i}`), destinations: ['a'] })));
    const first = await store.claim('a', 2, Date.now(), 60_000);
    expect(first.map((c) => c.event.id)).toEqual(['evt-00000001', 'evt-00000002']);
    const second = await store.claim('a', 5, Date.now(), 60_000);
    expect(second.map((c) => c.event.id)).toEqual(['evt-00000003']); // the leased two are not handed out again
    await store.update([{ id: first[0]!.id, state: 'delivered', attempted: true, status: 202 }]);
    await store.update([{ id: first[1]!.id, state: 'pending', nextAt: Date.now() - 1, attempted: true }]);
    expect((await store.claim('a', 5, Date.now(), 60_000)).map((c) => c.event.id)).toEqual(['evt-00000002']);
    const [stats] = await store.stats();
    expect(stats).toMatchObject({ destination: 'a', pending: 2, delivered: 1, dead: 0 });
    expect(stats!.oldestPendingAt).toBeGreaterThan(0);
  });

  it('drops personal data once every delivery of the event is done, not before', async () => {
    await store.ingest([{ event: event('evt-00000001'), destinations: ['a', 'b'] }]);
    const [a] = await store.claim('a', 1, Date.now(), 60_000);
    await store.update([
      { id: a!.id, state: 'delivered', attempted: true, status: 202, request: 'POST x\n{}\n{"email":"a@b.example"}' },
    ]);
    expect((await store.recentEvents(1))[0]!.properties).toHaveProperty('user_data');
    const [b] = await store.claim('b', 1, Date.now(), 60_000);
    await store.update([{ id: b!.id, state: 'skipped', detail: 'consent' }]);
    expect((await store.recentEvents(1))[0]!.properties).toEqual({ value: 1 });
    const deliveries = await store.recentDeliveries(10);
    expect(deliveries.find((d) => d.destination === 'a')!.request).toBe('POST x [body removed after delivery]');
  });

  it('re-queues dead letters with progress, and purges only what retention allows', async () => {
    const old = Date.now() - 10 * 86_400_000;
    await store.ingest([
      { event: event('evt-00000001', old), destinations: ['a'] },
      { event: event('evt-00000002', old), destinations: ['a'] },
    ]);
    const [d1, d2] = await store.claim('a', 2, Date.now(), 60_000);
    await store.update([
      { id: d1!.id, state: 'delivered', attempted: true },
      { id: d2!.id, state: 'dead', detail: 'gave up' },
    ]);
    expect(await store.purge(Date.now() - 7 * 86_400_000, Date.now() - 30 * 86_400_000)).toBe(1); // the delivered one
    const progress: [number, number][] = [];
    expect(await store.requeueDead('a', 0, (done, total) => progress.push([done, total]))).toBe(1);
    expect(progress).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(await store.queueDepth()).toEqual(new Map([['a', 1]]));
  });
});
