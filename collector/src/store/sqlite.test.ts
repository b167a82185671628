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

  it('opens a store made by version 1 (deliveries keyed by text id): rows, states and counts carry over', async () => {
    await store.close();
    rmSync(join(dir, 't.db'));
    const old = new Database(join(dir, 't.db'));
    old.exec(VERSION_1_SCHEMA);
    const now = Date.now();
    old.exec(`INSERT INTO events (id, name, received_at, body) VALUES
      ('evt-00000001', 'purchase', ${now}, '${JSON.stringify(event('evt-00000001', now))}'),
      ('evt-00000002', 'purchase', ${now}, '${JSON.stringify(event('evt-00000002', now))}');
      INSERT INTO deliveries (event_id, destination, state, created_at, updated_at, next_at) VALUES
      ('evt-00000001', 'a', 'delivered', ${now}, ${now}, ${now}),
      ('evt-00000001', 'b', 'dead', ${now}, ${now}, ${now}),
      ('evt-00000002', 'a', 'pending', ${now}, ${now}, ${now});`);
    old.close();

    store = new SqliteStore(join(dir, 't.db'), { thread: false });
    const [claimed, ...more] = await store.claim('a', 5, Date.now(), 60_000);
    expect(more).toEqual([]);
    expect(claimed!.event.id).toBe('evt-00000002');
    expect(await store.stats()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ destination: 'a', pending: 1, delivered: 1 }),
        expect.objectContaining({ destination: 'b', dead: 1 }),
      ]),
    );
    expect((await store.recentDeliveries(10)).map((d) => `${d.eventId} ${d.destination} ${d.state}`).sort()).toEqual([
      'evt-00000001 a delivered',
      'evt-00000001 b dead',
      'evt-00000002 a pending',
    ]);
    // New events count once (version 1 also counted them by a trigger, which is gone).
    await store.ingest([{ event: event('evt-00000003'), destinations: ['a'] }]);
    expect(await store.queueDepth()).toEqual(new Map([['a', 2]]));
    expect(await store.requeueDead('b', 0)).toBe(1);
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

/** The schema of version 1, as it made stores. */
const VERSION_1_SCHEMA = `
CREATE TABLE events (id TEXT PRIMARY KEY, name TEXT NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL,
  scrubbed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  destination TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, next_at INTEGER NOT NULL, status INTEGER, detail TEXT,
  request TEXT, UNIQUE (event_id, destination));
CREATE INDEX deliveries_due ON deliveries (destination, next_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON deliveries (destination, updated_at) WHERE state IN ('dead', 'rejected');
CREATE TABLE delivery_counts (destination TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (destination, state)) WITHOUT ROWID;
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries BEGIN
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF state ON deliveries WHEN OLD.state != NEW.state BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
END;
`;
