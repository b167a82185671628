import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeStoreContract, newEvent } from './testing.js';
import { SqliteStore } from './sqlite.js';
import { openDatabase, SQLITE_PAGE_SIZE, SQLITE_SCHEMA_VERSION } from './sqliteSchema.js';

describeStoreContract('SqliteStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tagrelay-store-'));
  const store = new SqliteStore(join(dir, 't.db'), { thread: false });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore schema', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tagrelay-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('brings a store made by 0.1 (no schema version) up to date, keeping its rows; a repeat of an old event stays a repeat', async () => {
    const path = join(dir, 't.db');
    const old = new Database(path);
    old.exec(SCHEMA_0_1);
    const now = Date.now();
    const body = JSON.stringify({ id: 'evt-00000001', name: 'purchase', time: now, context: { receivedAt: now } });
    old.prepare(`INSERT INTO events (id, name, received_at, body) VALUES ('evt-00000001', 'purchase', ?, ?)`).run(now, body);
    old.exec(`INSERT INTO deliveries (event_seq, destination, created_at, updated_at, next_at) VALUES (1, 'a', ${now}, ${now}, ${now});
              INSERT INTO delivery_counts VALUES ('a', 'pending', 1);`);
    old.close();

    const store = new SqliteStore(path, { thread: false });
    try {
      expect((await store.claim('a', 5, Date.now(), 60_000)).map((d) => d.event.id)).toEqual(['evt-00000001']);
      const repeat = { event: { id: 'evt-00000001', name: 'purchase', time: now }, context: { receivedAt: now + 1 }, destinations: ['a'] };
      expect(await store.ingest([repeat])).toEqual({ stored: 0, duplicates: 1, conflicts: [] });
      // Events stored after the upgrade get their rows at their first attempt, beside the old rows.
      await store.ingest([newEvent('evt-00000002', ['a'])]);
      const [second] = await store.claim('a', 5, Date.now(), 60_000);
      expect(second).toMatchObject({ event: { id: 'evt-00000002' }, attempts: 0 });
      expect(second!.id).toBeLessThan(0);
      expect((await store.stats())[0]).toMatchObject({ destination: 'a', pending: 2 });
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('overwrites what it deletes (secure_delete): erased and scrubbed personal data does not stay in the file', async () => {
    const path = join(dir, 't.db');
    const store = new SqliteStore(path, { thread: false });
    const secret = 'erase-me-please@example.com';
    await store.ingest([{ event: { id: 'evt-secure-001', name: 'purchase', time: 1795344440021, anonymousId: 'v-secure', properties: { user_data: { email: secret } } }, context: { receivedAt: Date.now() }, destinations: ['a'] }]);
    await store.forget({ anonymousId: 'v-secure' });
    await store.close();
    const db = new Database(path);
    expect(db.pragma('secure_delete', { simple: true })).toBe(0); // a new connection's default...
    db.close();
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(path).toString('latin1') + (existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`).toString('latin1') : '');
    expect(bytes).not.toContain(secret); // ...but the store's own connections overwrote the rows they deleted
  });

  it('opens the store in WAL mode with synchronous=FULL (fsync per commit), a new store and an existing one reopened', () => {
    const path = join(dir, 't.db');
    const fresh = openDatabase(path);
    expect(fresh.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(fresh.pragma('synchronous', { simple: true })).toBe(2); // FULL
    fresh.close();
    // The setting is the connection's, not the file's: a plain connection to a store already in WAL mode gets
    // the SQLite build's WAL default (better-sqlite3's is NORMAL, which may lose the last commits in a power
    // cut). So every connection the collector opens (the writer thread's is one: sqliteWriter.worker.ts) asks for FULL.
    const reopened = openDatabase(path);
    expect(reopened.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(reopened.pragma('synchronous', { simple: true })).toBe(2);
    reopened.close();
  });

  it('makes a new store with 8 KB pages (its writer thread first); a store made with 4 KB pages keeps them and works as before', async () => {
    const pageSize = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.pragma('page_size', { simple: true });
      } finally {
        db.close();
      }
    };
    const fresh = join(dir, 'fresh.db');
    const store = new SqliteStore(fresh);
    await store.ingest([newEvent('evt-page-0001', ['a'])]);
    await store.close();
    expect(SQLITE_PAGE_SIZE).toBe(8192);
    expect(pageSize(fresh)).toBe(8192);

    // A store from before: made with SQLite's default page size, then in WAL mode with rows.
    const old = join(dir, 'old.db');
    const db = new Database(old);
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA_0_1);
    db.close();
    expect(pageSize(old)).toBe(4096);
    const reopened = new SqliteStore(old);
    await reopened.ingest([newEvent('evt-page-0002', ['a'])]);
    expect((await reopened.claim('a', 5, Date.now(), 60_000)).map((d) => d.event.id)).toEqual(['evt-page-0002']);
    await reopened.close();
    expect(pageSize(old)).toBe(4096);
  });

  it('refuses a store made by a newer tagrelay, naming the file and both versions', () => {
    const path = join(dir, 't.db');
    new SqliteStore(path, { thread: false }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteStore(path, { thread: false })).toThrow(
      `the SQLite store ${path} has schema version ${SQLITE_SCHEMA_VERSION + 1}, made by a newer tagrelay (this one knows ${SQLITE_SCHEMA_VERSION})`,
    );
  });

  it('says which path it cannot create', () => {
    writeFileSync(join(dir, 'a-file'), '');
    const path = join(dir, 'a-file', 'data', 't.db');
    expect(() => new SqliteStore(path, { thread: false })).toThrow(`cannot open the SQLite store ${path}: `);
  });
});

describe('SqliteStore claims', () => {
  let dir: string;
  let path: string;
  /** The store of the test; a test that reopens it (a restart) sets it again, and it is closed after. */
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tagrelay-store-'));
    path = join(dir, 't.db');
    store = new SqliteStore(path, { thread: false });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An event to destination `a` from one visitor. */
  const eventOf = (id: string, anonymousId: string) => {
    const e = newEvent(id, ['a']);
    e.event.anonymousId = anonymousId;
    return e;
  };
  /** Claims what `a` has due at `now` and reports it delivered; the ids claimed. */
  const deliverAll = async (now = Date.now()) => {
    const claimed = await store.claim('a', 10, now, 60_000);
    await store.update(claimed.map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202 })));
    return claimed.map((d) => d.event.id);
  };

  it('writes a delivery row only at its first attempt; a reopened store takes up every attempt not reported, from its cursor, and no other', async () => {
    const rows = () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM deliveries').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    const events = Array.from({ length: 600 }, (_, i) => newEvent(`evt-${String(i).padStart(8, '0')}`, i % 3 ? ['a', 'b'] : ['b']));
    for (const e of events) e.event.anonymousId = 'anon-1';
    await store.ingest(events);
    expect(rows()).toBe(0);
    expect((await store.queueDepth()).get('a')).toBe(400);
    const [first] = await store.eventDeliveries(['evt-00000001']);
    expect(first).toMatchObject({ destination: 'a', state: 'pending', attempts: 0, inFlight: false });
    // 300 attempted and reported, 50 taken and never reported (the process dies).
    const claimed = [...(await store.claim('a', 200, Date.now(), 60_000)), ...(await store.claim('a', 150, Date.now(), 60_000))];
    expect(claimed.map((d) => d.event.id)).toEqual(
      Array.from({ length: 600 }, (_, i) => `evt-${String(i).padStart(8, '0')}`).filter((_, i) => i % 3).slice(0, 350),
    );
    await store.update(claimed.slice(0, 300).map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202 })));
    expect(rows()).toBe(300);
    // The cursor written with them: the event before the first one taken and not reported on (seq = position + 1).
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT seq FROM lane_cursors WHERE destination = 'a'`).pluck().get()).toBe(Number(claimed[300]!.event.id.slice(4)));
    db.close();
    expect((await store.eventDeliveries([claimed[0]!.event.id])).find((d) => d.destination === 'a')).toMatchObject({ id: claimed[0]!.id, state: 'delivered' });
    await store.close();
    store = new SqliteStore(path, { thread: false });
    const again = await store.claim('a', 1000, Date.now(), 60_000);
    expect(again.map((d) => d.id)).toEqual([...claimed.slice(300).map((d) => d.id), ...again.slice(50).map((d) => d.id)]);
    expect(again).toHaveLength(100);
    expect((await store.stats()).find((s) => s.destination === 'a')).toMatchObject({ pending: 100, delivered: 300 });
    // A first attempt that fails keeps its id as a row, and is retried by it.
    await store.update([{ id: again[0]!.id, state: 'pending', nextAt: Date.now() - 1, attempted: true }]);
    await store.update(again.slice(1).map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202 })));
    const retried = await store.claim('a', 10, Date.now() + 2000, 60_000);
    expect(retried.map((d) => ({ id: d.id, attempts: d.attempts }))).toEqual([{ id: again[0]!.id, attempts: 1 }]);
    // Erasing events takes their deliveries without rows out of the counts.
    const forgotten = await store.forget({ anonymousId: 'anon-1' });
    expect(forgotten.events).toBe(600);
    expect(await store.queueDepth()).toEqual(new Map([['a', 0], ['b', 0]]));
  });

  it("never gives an erased event's seq to a new one: a cursor past it would skip the new event", async () => {
    await store.ingest([eventOf('evt-00000001', 'v-1'), eventOf('evt-00000002', 'v-1'), eventOf('evt-00000003', 'v-3')]);
    expect(await deliverAll()).toHaveLength(3);
    expect((await store.forget({ anonymousId: 'v-3' })).events).toBe(1);
    await store.ingest([eventOf('evt-00000004', 'v-4')]);
    expect(await deliverAll()).toEqual(['evt-00000004']);
    // The same after a restart, from the cursor written with the results.
    await store.close();
    store = new SqliteStore(path, { thread: false });
    expect((await store.forget({ anonymousId: 'v-4' })).events).toBe(1);
    await store.ingest([eventOf('evt-00000005', 'v-5')]);
    expect(await deliverAll()).toEqual(['evt-00000005']);
  });

  it("after a restart, a purge of the newest events gives their seqs to no new event, though a claim read past them", async () => {
    const hoursAgo = Date.now() - 2 * 3_600_000;
    await store.ingest([newEvent('evt-00000001', ['a'], hoursAgo)]);
    expect(await deliverAll()).toEqual(['evt-00000001']);
    // Two page views without a destination, newest of all; the cursor stays before them.
    await store.ingest([newEvent('evt-00000002', [], hoursAgo), newEvent('evt-00000003', [], hoursAgo)]);
    await store.close();
    // A start: the lane's first claim reads past them (in memory), then the start's purge takes them.
    store = new SqliteStore(path, { thread: false });
    expect(await store.claim('a', 10, Date.now(), 60_000)).toEqual([]);
    const now = Date.now();
    const day = 86_400_000;
    expect(await store.purge({ deliveredBefore: now - 7 * day, deadBefore: now - 30 * day, unroutedBefore: now - 3_600_000, visitorsBefore: now - 30 * day })).toBe(2);
    await store.ingest(['evt-00000004', 'evt-00000005', 'evt-00000006'].map((id) => newEvent(id, ['a'])));
    expect(await deliverAll(now + 1500)).toEqual(['evt-00000004', 'evt-00000005', 'evt-00000006']);
    expect((await store.stats())[0]).toMatchObject({ destination: 'a', pending: 0, delivered: 4 });
  });

  it("after a restart, an erasure by another process of the newest event, in flight, gives its seq to no new event", async () => {
    await store.ingest([eventOf('evt-00000001', 'v-1'), eventOf('evt-00000002', 'v-2'), eventOf('evt-00000003', 'v-3')]);
    await store.close();
    store = new SqliteStore(path, { thread: false });
    const inFlight = await store.claim('a', 10, Date.now(), 60_000);
    expect(inFlight).toHaveLength(3);
    // tagrelay forget, from another process, while the three requests are out.
    const other = new SqliteStore(path, { thread: false, lock: false });
    expect((await other.forget({ anonymousId: 'v-3' })).events).toBe(1);
    await other.close();
    await store.ingest([eventOf('evt-00000004', 'v-4')]);
    // The erased event's answer arrives: it makes no row for the new event.
    await store.update(inFlight.map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202 })));
    expect(await store.eventDeliveries(['evt-00000004'])).toMatchObject([{ state: 'pending', attempts: 0 }]);
    const next = await store.claim('a', 10, Date.now() + 1500, 60_000);
    expect(next.map((d) => d.event.id)).toEqual(['evt-00000004']);
  });

  it('reads due deliveries ahead: a leased one is never handed out again, and what falls due is taken within a second', async () => {
    await store.ingest(Array.from({ length: 20 }, (_, i) => newEvent(`evt-${String(i).padStart(8, '0')}`, ['a'])));
    const t0 = Date.now();
    const first = await store.claim('a', 4, t0, 60_000);
    const second = await store.claim('a', 4, t0 + 1, 60_000);
    expect(new Set([...first, ...second].map((d) => d.id)).size).toBe(8);
    // The first delivery fails (due in an hour); the operator makes it due at once, older than every other.
    const retry = first[0]!.id;
    await store.update([{ id: retry, state: 'pending', nextAt: t0 + 3_600_000, attempted: true }]);
    await store.update(first.slice(1).map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202 })));
    await store.retryNow([retry], t0 - 60_000);
    // A second after the last read, the claim reads the due index again, oldest first: the retry leads,
    // and nothing of the second claim (still leased) comes again.
    const later = await store.claim('a', 4, t0 + 1000, 60_000);
    expect(later[0]).toMatchObject({ id: retry, attempts: 1 });
    expect(new Set([...second, ...later].map((d) => d.id)).size).toBe(8);
  });
});

/** The schema tagrelay 0.1 made stores with (no user_version). */
const SCHEMA_0_1 = `
CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, received_at INTEGER NOT NULL,
  body TEXT NOT NULL, scrubbed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
  destination TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, next_at INTEGER NOT NULL, status INTEGER, detail TEXT,
  request TEXT, UNIQUE (event_seq, destination));
CREATE INDEX deliveries_due ON deliveries (destination, next_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON deliveries (destination, updated_at) WHERE state IN ('dead', 'rejected');
CREATE TABLE delivery_counts (destination TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (destination, state)) WITHOUT ROWID;
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF state ON deliveries WHEN OLD.state != NEW.state BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
END;
`;
