import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setReadOnly, testDatabase } from '../../../e2e/postgres.js';
import { TcpProxy } from '../../../e2e/tcpProxy.js';
import { spawnEmbeddedPostgres, sql, type EmbeddedPostgresServer } from '../../../scripts/postgres.mjs';
import { describeStoreContract, newEvent, personEvent } from './testing.js';
import { CONTEXT_KEY, storedBodyParts } from './storedBody.js';
import { PostgresStore, withLibpqSslModes } from './postgres.js';
import { POSTGRES_SCHEMA_VERSION } from './postgresSchema.js';
import { StoreError, StoreReadOnly } from './types.js';

/** An event's stored body, as the stores write it (storedBodyParts). */
function storedBody(event: Parameters<typeof storedBodyParts>[0][number]): string {
  const { contents, contexts } = storedBodyParts([event]);
  return `${contents[0]}${CONTEXT_KEY}${contexts[0]}}`;
}

/** The first rejection of `f` within 5 s (a pool first meets the connections ended under it). */
async function waitForRejection(f: () => Promise<unknown>): Promise<unknown> {
  for (const until = Date.now() + 5000; ; ) {
    const e = await f().then(() => undefined, (x: unknown) => x);
    if ((e && !/terminat/i.test((e as Error).message)) || Date.now() > until) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForResolution(f: () => Promise<unknown>, ms = 5000): Promise<void> {
  for (const until = Date.now() + ms; ; ) {
    const ok = await f().then(() => true, () => false);
    if (ok) return;
    if (Date.now() > until) await f(); // throws what it throws
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeStoreContract('PostgresStore', async () => {
  const db = await testDatabase();
  const store = await PostgresStore.open(db.url);
  return {
    store,
    async close() {
      await store.close();
      await db.drop();
    },
  };
});

describe('PostgresStore in a fleet', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  const open: PostgresStore[] = [];
  const store = async (owner: string) => {
    const s = await PostgresStore.open(db.url, { owner });
    open.push(s);
    return s;
  };
  beforeEach(async () => {
    db = await testDatabase();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await db.drop();
  });

  it('several collectors starting at once migrate once, under the advisory lock', async () => {
    const stores = await Promise.all(['a', 'b', 'c', 'd'].map((o) => store(o)));
    expect(stores).toHaveLength(4);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      expect((await c.query('SELECT version FROM tagrelay.schema_version')).rows).toEqual([{ version: POSTGRES_SCHEMA_VERSION }]);
    } finally {
      await c.end();
    }
  });

  it('refuses a database whose schema is newer than this code, in one line naming it', async () => {
    await (await store('a')).close();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('UPDATE tagrelay.schema_version SET version = $1', [POSTGRES_SCHEMA_VERSION + 1]);
    await c.end();
    const where = new URL(db.url);
    where.password = '';
    where.username = '';
    await expect(PostgresStore.open(db.url)).rejects.toThrow(
      new StoreError(
        `the PostgreSQL store ${where} has schema version ${POSTGRES_SCHEMA_VERSION + 1}, made by a newer tagrelay (this one knows ${POSTGRES_SCHEMA_VERSION}): upgrade tagrelay`,
      ),
    );
  });

  it('a conversion claim looks up each conversion by its key, never reading every conversion sent', async () => {
    const s = await store('a');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      // Conversions sent before, with statistics that say so (a join planned as a scan of them all here).
      await c.query(`INSERT INTO tagrelay.conversion_sends (conversion, destination, delivery_id, claimed_at)
                     SELECT 'purchase:T-' || g, 'chase', g, 0 FROM generate_series(1, 5000) g`);
      await c.query('ANALYZE tagrelay.conversion_sends');
      const scans = async () =>
        (await c.query<{ seq: number; idx: number }>(
          `SELECT seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx FROM pg_stat_user_tables WHERE relid = 'tagrelay.conversion_sends'::regclass`,
        )).rows[0]!;
      const before = await scans();
      const claim = (conversion: string, deliveryId: number) => ({ conversion, destination: 'chase', deliveryId });
      for (let i = 0; i < 8; i++) {
        // Past five runs a prepared statement may take a generic plan: both plans are checked.
        const claims = Array.from({ length: 15 }, (_, k) => claim(`purchase:N-${i}-${k}`, 100_000 + i * 15 + k));
        expect(await s.claimConversions([...claims, claim('purchase:T-7', 7), claim('purchase:T-8', 99)])).toEqual([
          ...claims.map(() => true),
          true, // claimed before by this delivery
          false, // by another
        ]);
      }
      // A backend writes its statistics when it ends, at the latest.
      open.splice(open.indexOf(s), 1);
      await s.close();
      await waitForResolution(async () => {
        if ((await scans()).idx <= before.idx) throw new Error('statistics not written yet');
      });
      expect((await scans()).seq).toBe(before.seq);
    } finally {
      await c.end();
    }
  });

  it('says which server it cannot reach, without the password', async () => {
    const url = 'postgres://someone:hunter2secret@127.0.0.1:1/nothing';
    const e = await PostgresStore.open(url).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(StoreError);
    expect((e as Error).message).toMatch(/^cannot connect to the PostgreSQL store postgres:\/\/127\.0\.0\.1:1\/nothing: /);
    expect((e as Error).message).not.toContain('hunter2secret');
  });

  it('with the database cut off, a group of requests fails once the statement limit is up, not then again request by request', async () => {
    const url = new URL(db.url);
    const proxy = await TcpProxy.start(url.hostname, Number(url.port || 5432));
    try {
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const s = await PostgresStore.open(url.toString(), { queryTimeoutMs: 2000 });
      open.push(s);
      expect(await s.ingest([newEvent('evt-cut-0000', ['x'])])).toMatchObject({ stored: 1 }); // connected
      proxy.partition();
      const started = Date.now();
      // Three requests in one turn: one group, one statement.
      const results = await Promise.allSettled(['1', '2', '3'].map((n) => s.ingest([newEvent(`evt-cut-000${n}`, ['x'])])));
      const took = Date.now() - started;
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      // Request by request after that, each would wait another 2 s.
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(3500);
      proxy.heal();
    } finally {
      await proxy.close();
    }
  });

  it('check() fails with StoreReadOnly on a database that answers but takes no writes; a collector opens it meanwhile and joins once it can', { timeout: 20_000 }, async () => {
    const s = await store('a');
    await s.check();
    await setReadOnly(db.url, true);
    const error = await waitForRejection(() => s.check());
    expect(error).toBeInstanceOf(StoreReadOnly);
    expect((error as Error).message).toMatch(/^the PostgreSQL store postgres:\/\/127\.0\.0\.1:\d+\/\w+ is read-only \(default_transaction_read_only\)$/);
    // A collector starting meanwhile (a failover under way) opens it, its schema being current, and joins
    // the fleet once it can: before, the start failed on CREATE SCHEMA.
    const late = await store('late');
    await expect(late.check()).rejects.toThrow(StoreReadOnly);
    await expect(late.fleet.join('test')).rejects.toThrow(/read-only/);
    await setReadOnly(db.url, false);
    await waitForResolution(() => s.check());
    await waitForResolution(async () => {
      const { collectors } = await s.fleet.status(60_000);
      if (!collectors.some((c) => c.id === 'late')) throw new Error('not listed yet');
    }, 8000);
  });

  it("commits with synchronous_commit on whatever the database's default: an acknowledged event is on disk", async () => {
    await sql(db.url, `ALTER DATABASE "${db.name}" SET synchronous_commit = off`);
    expect(await sql(db.url, 'SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]); // the default here
    const s = await store('a');
    const pool = (s as unknown as { pool: pg.Pool }).pool;
    const sessions = await Promise.all(Array.from({ length: 4 }, () => pool.query('SHOW synchronous_commit')));
    expect(sessions.map((r) => r.rows[0])).toEqual(Array(4).fill({ synchronous_commit: 'on' }));
  });

  it('stores an id once whichever collector receives it, also when both receive it at the same moment', async () => {
    const [a, b] = [await store('a'), await store('b')];
    const ids = Array.from({ length: 200 }, (_, i) => `evt-same-${String(i).padStart(4, '0')}`);
    const now = Date.now();
    // Both collectors get the same 200 ids at once, in opposite orders (a deadlock, were locks taken in arrival order).
    const batch = (order: string[]) => order.map((id) => ({ ...newEvent(id, ['x'], now), event: { ...newEvent(id, ['x'], now).event, time: now } }));
    const [ra, rb] = await Promise.all([a.ingest(batch(ids)), b.ingest(batch([...ids].reverse()))]);
    expect(ra.stored + rb.stored).toBe(200);
    expect(ra.duplicates + rb.duplicates).toBe(200);
    expect([...ra.conflicts, ...rb.conflicts]).toEqual([]);
    expect(await a.queueDepth()).toEqual(new Map([['x', 200]]));
  });

  it("writes a request's events and its visitor updates in one transaction (one commit to wait for)", async () => {
    const a = await store('a');
    const visitor = { anonymousId: 'v-one-commit', clickIds: { clickid: 'c-1' }, at: Date.now() };
    // As /collect does: both asked for in the same turn, then awaited.
    const remembered = a.rememberVisitors([visitor]);
    await a.ingest([newEvent('evt-one-commit', ['x'])]);
    await remembered;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT (SELECT xmin::text FROM tagrelay.events WHERE id = 'evt-one-commit') AS event,
                (SELECT xmin::text FROM tagrelay.visitors WHERE anonymous_id = 'v-one-commit') AS visitor`,
      );
      expect(rows[0].event).toBeTruthy();
      expect(rows[0].visitor).toBe(rows[0].event);
    } finally {
      await c.end();
    }
    expect((await a.visitors(['v-one-commit'], 0)).get('v-one-commit')?.clickIds).toEqual({ clickid: ['c-1', visitor.at] });
  });

  it('two collectors claiming at once never get the same delivery', async () => {
    const [a, b] = [await store('a'), await store('b')];
    // Ten requests' groups: a claim makes the rows of one group at a time, and the other takes the next.
    for (let g = 0; g < 10; g++) {
      await a.ingest(Array.from({ length: 50 }, (_, i) => newEvent(`evt-claim-${String(g * 50 + i).padStart(4, '0')}`, ['x'])));
    }
    const got: number[][] = [[], []];
    await Promise.all(
      [a, b].map(async (s, k) => {
        for (;;) {
          const c = await s.claim('x', 7, Date.now(), 60_000);
          if (!c.length) return;
          got[k]!.push(...c.map((d) => d.id));
        }
      }),
    );
    const all = [...got[0]!, ...got[1]!];
    expect(all).toHaveLength(500);
    expect(new Set(all).size).toBe(500);
    expect(got[0]!.length).toBeGreaterThan(0);
    expect(got[1]!.length).toBeGreaterThan(0);
  });

  it('a lease that runs out makes the delivery claimable by another collector, and the late result of the first is ignored', async () => {
    const [a, b] = [await store('a'), await store('b')];
    await a.ingest([newEvent('evt-lease-0001', ['x'])]);
    const [mine] = await a.claim('x', 1, Date.now(), 300);
    expect(mine).toBeDefined();
    expect(await b.claim('x', 1, Date.now(), 60_000)).toEqual([]); // leased to a
    await new Promise((r) => setTimeout(r, 350));
    const [taken] = await b.claim('x', 1, Date.now(), 60_000); // a "died": its lease ran out
    expect(taken?.id).toBe(mine!.id);
    // a comes back late with a failure: b holds the lease now, so a's result changes nothing.
    await a.update([{ id: mine!.id, state: 'dead', detail: 'late', attempted: true }]);
    expect((await b.stats())[0]).toMatchObject({ pending: 1, dead: 0 });
    await b.update([{ id: taken!.id, state: 'delivered', attempted: true, status: 202 }]);
    expect((await a.stats())[0]).toMatchObject({ pending: 0, delivered: 1, dead: 0 });
    expect((await a.recentDeliveries(1))[0]).toMatchObject({ state: 'delivered', attempts: 1 });
  });

  it('a claim leases what it asked for of the rows it makes, whatever its clock says; the rest are due for the next', async () => {
    const [a, b] = [await store('a'), await store('b')];
    await a.ingest(Array.from({ length: 5 }, (_, i) => newEvent(`evt-ahead-000${i}`, ['x'])));
    // b's clock is five minutes behind a's: the events were stored "after" b's now, and are b's to send all the same.
    const behind = Date.now() - 300_000;
    const first = await b.claim('x', 2, behind, 600_000);
    expect(first.map((d) => d.event.id)).toEqual(['evt-ahead-0000', 'evt-ahead-0001']);
    const rows = await sql(db.url, 'SELECT leased_by, next_at - $1 AS lease_ms FROM tagrelay.deliveries ORDER BY event_seq', [behind]);
    expect(rows).toEqual([
      { leased_by: 'b', lease_ms: '600000' },
      { leased_by: 'b', lease_ms: '600000' },
      ...Array.from({ length: 3 }, () => ({ leased_by: null, lease_ms: expect.any(String) })),
    ]);
    const rest = await a.claim('x', 10, Date.now(), 60_000);
    expect(rest.map((d) => d.event.id)).toEqual(['evt-ahead-0002', 'evt-ahead-0003', 'evt-ahead-0004']);
    expect(await b.claim('x', 10, Date.now(), 60_000)).toEqual([]);
    expect((await a.stats())[0]).toMatchObject({ pending: 5 });
  });

  it('retryNow leaves a delivery another collector is sending alone', async () => {
    const [a, b] = [await store('a'), await store('b')];
    await a.ingest([newEvent('evt-retry-0001', ['x'])]);
    const [d] = await a.claim('x', 1, Date.now(), 60_000);
    await b.retryNow([d!.id], Date.now());
    expect(await b.claim('x', 1, Date.now(), 60_000)).toEqual([]);
  });

  it('shares lane state: a change from a stale epoch loses, and one collector at a time holds the probe', async () => {
    const [a, b] = [await store('a'), await store('b')];
    const la = a.fleet.lane('x');
    const lb = b.fleet.lane('x');
    const start = await la.read();
    expect(start).toMatchObject({ epoch: 0, state: 'active', failures: 0 });
    const failing = { epoch: 1, state: 'backing-off' as const, failures: 1, blockedUntil: Date.now() + 1000, reason: '503' };
    expect(await la.move(0, failing)).toMatchObject({ epoch: 1, failures: 1, updatedBy: 'a' });
    // b saw the same outage from epoch 0: it was counted already; b gets a's record.
    expect(await lb.move(0, { ...failing, reason: 'b too' })).toMatchObject({ epoch: 1, reason: '503', updatedBy: 'a' });
    const now = Date.now();
    expect(await la.takeProbe(1, now, now + 5000)).toBe(true);
    expect(await lb.takeProbe(1, now, now + 5000)).toBe(false);
    await la.releaseProbe(1);
    expect(await lb.takeProbe(1, now, now + 5000)).toBe(true);
    expect(await la.takeProbe(1, now + 6000, now + 11000)).toBe(true); // b's probe ran out
    await a.fleet.join('test');
    await b.fleet.join('test');
    const status = await a.fleet.status(30_000);
    expect(status.collectors.map((c) => c.id).sort()).toEqual(['a', 'b']);
    expect(status.lanes).toEqual([expect.objectContaining({ destination: 'x', epoch: 1, state: 'backing-off' })]);
  });

  it('purges in batches that walk from the oldest event, and keeps the counts exact', async () => {
    const a = await store('a');
    const old = Date.now() - 10 * 86_400_000;
    const n = 2500;
    for (let i = 0; i < n; i += 500) {
      await a.ingest(Array.from({ length: 500 }, (_, k) => newEvent(`evt-purge-${String(i + k).padStart(5, '0')}`, ['x'], old)));
    }
    for (;;) {
      const c = await a.claim('x', 1000, Date.now(), 60_000);
      if (!c.length) break;
      await a.update(c.map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true })));
    }
    await a.ingest([newEvent('evt-purge-new', ['x'])]);
    // Each DELETE statement's events, written down by a trigger of the test's own.
    await sql(
      db.url,
      `CREATE TABLE tagrelay.test_purge_statements (n integer NOT NULL);
       CREATE FUNCTION tagrelay.test_count_purged() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO tagrelay.test_purge_statements SELECT count(*) FROM gone; RETURN NULL; END $$;
       CREATE TRIGGER test_count_purged AFTER DELETE ON tagrelay.events
         REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION tagrelay.test_count_purged();`,
    );
    expect(await a.purge({ deliveredBefore: Date.now() - 7 * 86_400_000, deadBefore: Date.now() - 30 * 86_400_000, unroutedBefore: Date.now() - 3_600_000, visitorsBefore: 0 })).toBe(n);
    expect((await a.recentEvents(10)).map((e) => e.id)).toEqual(['evt-purge-new']);
    expect(await a.stats()).toEqual([expect.objectContaining({ destination: 'x', pending: 1, delivered: 0 })]);
    const [batches] = await sql(db.url, 'SELECT count(*) FILTER (WHERE n > 0)::int AS statements, max(n)::int AS largest FROM tagrelay.test_purge_statements');
    expect(batches).toEqual({ statements: 3, largest: 1000 });
  });

  it('claims and results read deliveries by key on a table that grew since their plans were made, never scanning it', async () => {
    const a = await store('a');
    const session = new pg.Client({ connectionString: db.url });
    await session.connect();
    try {
      const claimAndRecord = async (limit: number) => {
        const { rows } = await session.query<{ id: string; lease: string }>("SELECT id, lease FROM tagrelay.claim('x', $1, $2, 60000, 'me')", [Date.now(), limit]);
        await session.query('SELECT tagrelay.record_results($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
          rows.map((r) => r.id), rows.map((r) => r.lease), rows.map(() => 'delivered'), rows.map(() => 1),
          rows.map(() => null), rows.map(() => 202), rows.map(() => null), rows.map(() => 'POST /x'), Date.now(),
        ]);
        return rows.length;
      };
      // The session's plans made on a new, nearly empty table (a new database, before autovacuum's first ANALYZE):
      // PostgreSQL keeps them for the session after five runs.
      await a.ingest(Array.from({ length: 10 }, (_, i) => newEvent(`evt-plan-${String(i).padStart(5, '0')}`, ['x'])));
      for (let i = 0; i < 10; i++) expect(await claimAndRecord(1)).toBe(1);
      // Then the table grows: 4,000 deliveries made and done by another collector.
      for (let g = 0; g < 8; g++) {
        await a.ingest(Array.from({ length: 500 }, (_, i) => newEvent(`evt-plan-${String(1000 + g * 500 + i).padStart(5, '0')}`, ['x'])));
      }
      for (let claimed = await a.claim('x', 1000, Date.now(), 60_000); claimed.length; claimed = await a.claim('x', 1000, Date.now(), 60_000)) {
        await a.update(claimed.map((d) => ({ id: d.id, state: 'delivered', attempted: true, status: 202 })));
      }
      await a.ingest(Array.from({ length: 20 }, (_, i) => newEvent(`evt-plan-${String(9000 + i).padStart(5, '0')}`, ['x'])));
      // The session's next claims and results, counted in its own transaction.
      await session.query('BEGIN');
      expect(await claimAndRecord(8)).toBe(8);
      expect(await claimAndRecord(8)).toBe(8);
      const { rows } = await session.query<{ seq_scan: string; idx_scan: string }>(
        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE schemaname = 'tagrelay' AND relname = 'deliveries'",
      );
      await session.query('COMMIT');
      expect(Number(rows[0]!.idx_scan)).toBeGreaterThan(0);
      expect(Number(rows[0]!.seq_scan)).toBe(0);
    } finally {
      await session.end();
    }
  });
});

describe('PostgresStore purge beside a replay', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let store: PostgresStore;
  beforeEach(async () => {
    db = await testDatabase();
    store = await PostgresStore.open(db.url);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it('keeps a dead letter that a replay is putting back in the queue while a purge decides on its event', async () => {
    const day = 86_400_000;
    const old = Date.now() - 60 * day;
    await store.ingest([newEvent('evt-replayed', ['x'], old)]);
    const [d] = await store.claim('x', 1, Date.now(), 60_000);
    await store.update([{ id: d!.id, state: 'dead', attempted: true, status: 500 }]);
    await sql(db.url, 'UPDATE tagrelay.deliveries SET updated_at = $1', [old]);
    // tagrelay replay's statement, in a transaction of the test's own: done, not yet committed.
    const replay = new pg.Client({ connectionString: db.url });
    await replay.connect();
    try {
      await replay.query('BEGIN');
      await replay.query(`UPDATE tagrelay.deliveries SET state = 'pending', attempts = 0, next_at = $1, updated_at = $1 WHERE id = $2`, [Date.now(), d!.id]);
      const now = Date.now();
      const purging = store.purge({ deliveredBefore: now - 7 * day, deadBefore: now - 30 * day, unroutedBefore: now - 3_600_000, visitorsBefore: 0 });
      // The purge waits for the replay's row lock (else this test would test nothing).
      await storeWaitsForLock();
      await replay.query('COMMIT');
      expect(await purging).toBe(0);
    } finally {
      await replay.end();
    }
    expect(await store.eventDeliveries(['evt-replayed'])).toMatchObject([{ state: 'pending', attempts: 0 }]);
    expect((await store.claim('x', 1, Date.now() + 1000, 60_000)).map((c) => c.event.id)).toEqual(['evt-replayed']);
  });

  /** Until one of the store's statements waits for a lock (failing after 10 s). */
  async function storeWaitsForLock(): Promise<void> {
    const waiting = async () =>
      ((await sql(db.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tagrelay' AND wait_event_type = 'Lock'`)) as { n: number }[])[0]!.n > 0;
    const deadline = Date.now() + 10_000;
    while (!(await waiting()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(true);
  }
  const userDataOf = async (id: string) => ((await store.findEvents({ id, limit: 1 }))[0]!.properties as Record<string, unknown>).user_data;
  const purgeAll = () =>
    store.purge({ deliveredBefore: Date.now(), deadBefore: Date.now(), unroutedBefore: Date.now() - 3_600_000, visitorsBefore: 0 });

  it("delivers, completes and purges alike an event of this version (no row until it is claimed) and one stored by the version before's ingest (a row per destination)", async () => {
    const old = Date.now() - 60 * 86_400_000;
    await store.ingest([newEvent('evt-v4-0001', ['x', 'y'], old)]);
    // The ingest of schema version 3, as a collector not yet upgraded calls it during a rolling upgrade.
    const before = newEvent('evt-v3-0001', ['x', 'y'], old);
    await sql(db.url, 'SELECT tagrelay.ingest($1, $2, $3, $4, $5, $6, $7, NULL)', [
      before.event.id, before.event.name, String(old), storedBody(before), 'ab'.repeat(20), 'x,y', old,
    ]);
    // The version before's retention would take this event for one no destination took: its deletes are refused.
    await expect(sql(db.url, `DELETE FROM tagrelay.events WHERE received_at < $1`, [Date.now()])).rejects.toThrow(
      'deleting from tagrelay.events needs tagrelay of schema 4 or newer (a delivery may have no row yet): upgrade this collector, or SET tagrelay.writer_schema = 4 to delete by hand',
    );
    await expect(sql(db.url, `DELETE FROM tagrelay.deliveries`)).rejects.toThrow(/deleting from tagrelay.deliveries needs tagrelay of schema 4/);
    const rowsOf = () =>
      sql(db.url, `SELECT e.id, e.routes, count(d.id)::int AS rows FROM tagrelay.events e LEFT JOIN tagrelay.deliveries d ON d.event_seq = e.seq GROUP BY 1, 2 ORDER BY 1`);
    expect(await rowsOf()).toEqual([
      { id: 'evt-v3-0001', routes: null, rows: 2 },
      { id: 'evt-v4-0001', routes: ',x,y,', rows: 0 },
    ]);
    const stats = await store.stats();
    expect(stats).toEqual([
      expect.objectContaining({ destination: 'x', pending: 2, delivered: 0 }),
      expect.objectContaining({ destination: 'y', pending: 2, delivered: 0 }),
    ]);
    expect(stats[0]!.oldestPendingAt).toBeLessThanOrEqual(Date.now());
    expect((await store.eventDeliveries(['evt-v4-0001'])).map((d) => [d.destination, d.state, d.id < 0])).toEqual([
      ['x', 'pending', true],
      ['y', 'pending', true],
    ]);
    // x delivers both: the claim made the rows of this version's event.
    const x = await store.claim('x', 10, Date.now(), 60_000);
    expect(x.map((d) => d.event.id).sort()).toEqual(['evt-v3-0001', 'evt-v4-0001']);
    expect(await rowsOf()).toEqual([
      { id: 'evt-v3-0001', routes: null, rows: 2 },
      { id: 'evt-v4-0001', routes: ',x,y,', rows: 1 },
    ]);
    await store.update(x.map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202, request: 'POST x\n{}' })));
    // y has not: personal data stays, and retention keeps both.
    expect(await userDataOf('evt-v4-0001')).toBeDefined();
    expect(await userDataOf('evt-v3-0001')).toBeDefined();
    expect(await purgeAll()).toBe(0);
    expect((await store.eventDeliveries(['evt-v4-0001'])).map((d) => [d.destination, d.state])).toEqual([
      ['x', 'delivered'],
      ['y', 'pending'],
    ]);
    const y = await store.claim('y', 10, Date.now(), 60_000);
    expect(y.map((d) => d.event.id).sort()).toEqual(['evt-v3-0001', 'evt-v4-0001']);
    await store.update(y.map((d) => ({ id: d.id, state: 'delivered' as const, attempted: true, status: 202, request: 'POST y\n{}' })));
    expect(await userDataOf('evt-v4-0001')).toBeUndefined();
    expect(await userDataOf('evt-v3-0001')).toBeUndefined();
    expect((await store.recentDeliveries(10)).map((d) => d.request).sort()).toEqual([
      ...Array(2).fill('POST x [body removed after delivery]'),
      ...Array(2).fill('POST y [body removed after delivery]'),
    ]);
    expect(await store.stats()).toEqual([
      expect.objectContaining({ destination: 'x', pending: 0, delivered: 2 }),
      expect.objectContaining({ destination: 'y', pending: 0, delivered: 2 }),
    ]);
    expect(await purgeAll()).toBe(2);
    expect(await rowsOf()).toEqual([]);
  });

  it('an event erased while its deliveries wait for their rows leaves its group, and a row whose event is gone is dropped by the claim that meets it', async () => {
    const person = (id: string) => personEvent(id, id === 'evt-gone-0002' ? 'v-gone' : 'v-stays', {}, ['x']);
    await store.ingest(['evt-gone-0001', 'evt-gone-0002', 'evt-gone-0003'].map(person));
    await store.ingest(['evt-gone-0004', 'evt-gone-0005'].map(person));
    expect(await store.forget({ anonymousId: 'v-gone' })).toEqual({ events: 1, deliveries: 1, conflicts: 0 });
    expect(await sql(db.url, 'SELECT cardinality(seqs) AS n FROM tagrelay.first_attempts ORDER BY id')).toEqual([{ n: 2 }, { n: 2 }]);
    expect(await store.queueDepth()).toEqual(new Map([['x', 4]]));
    // The first group's rows made; then one of their events deleted by hand, as an operator might.
    const first = await store.claim('x', 1, Date.now(), 60_000);
    expect(first).toHaveLength(1);
    const other = first[0]!.event.id === 'evt-gone-0001' ? 'evt-gone-0003' : 'evt-gone-0001';
    const operator = new pg.Client({ connectionString: db.url });
    await operator.connect();
    await operator.query('SET tagrelay.writer_schema = 4');
    await operator.query('DELETE FROM tagrelay.events WHERE id = $1', [other]);
    await operator.end();
    const rest = await store.claim('x', 10, Date.now(), 60_000);
    expect(rest.map((d) => d.event.id).sort()).toEqual(['evt-gone-0004', 'evt-gone-0005']);
    expect(await sql(db.url, 'SELECT count(*)::int AS n FROM tagrelay.deliveries')).toEqual([{ n: 3 }]);
    expect(await store.queueDepth()).toEqual(new Map([['x', 3]]));
  });

  it("the last two results of an event, recorded at once, remove its personal data: the second waits for the first and sees it", async () => {
    await store.ingest([newEvent('evt-both-0001', ['x', 'y'])]);
    const [x] = await store.claim('x', 1, Date.now(), 60_000);
    const [y] = await store.claim('y', 1, Date.now(), 60_000);
    // x's result, recorded by another collector's transaction, not yet committed.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `SELECT tagrelay.record_results(ARRAY[$1::bigint], ARRAY[NULL::bigint], ARRAY['delivered'], ARRAY[1], ARRAY[NULL::bigint],
                                        ARRAY[202], ARRAY[NULL::text], ARRAY['POST x' || chr(10) || '{}'], $2)`,
        [x!.id, Date.now()],
      );
      const recording = store.update([{ id: y!.id, state: 'delivered', attempted: true, status: 202, request: 'POST y\n{}' }]);
      await storeWaitsForLock();
      await other.query('COMMIT');
      await recording;
    } finally {
      await other.end();
    }
    expect(await userDataOf('evt-both-0001')).toBeUndefined();
    expect((await store.eventDeliveries(['evt-both-0001'])).map((d) => d.request)).toEqual([
      'POST x [body removed after delivery]',
      'POST y [body removed after delivery]',
    ]);
  });

  it('erasure that meets a claim making the rows of its events waits for it, and deletes the rows it made', async () => {
    await store.ingest([personEvent('evt-race-0001', 'v-race', {}, ['x']), personEvent('evt-race-0002', 'v-other', {}, ['x'])]);
    // Another collector's claim, not yet committed: it took the group and made both events' rows.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      expect((await other.query(`SELECT id FROM tagrelay.claim('x', $1, 1, 60000, 'other')`, [Date.now()])).rows).toHaveLength(1);
      const forgetting = store.forget({ anonymousId: 'v-race' });
      await storeWaitsForLock();
      await other.query('COMMIT');
      expect(await forgetting).toEqual({ events: 1, deliveries: 1, conflicts: 0 });
    } finally {
      await other.end();
    }
    expect(await sql(db.url, 'SELECT e.id FROM tagrelay.deliveries d LEFT JOIN tagrelay.events e ON e.seq = d.event_seq')).toEqual([{ id: 'evt-race-0002' }]);
    expect(await store.queueDepth()).toEqual(new Map([['x', 1]]));
  });
});

describe('PostgresStore over SSL, sslmode as libpq reads it', () => {
  // A server of its own with SSL on and a certificate from a CA of the test's own (e2e/fixtures/tls), as a
  // provider's database often has; it also takes connections without SSL (the admin's below).
  const tls = resolve(import.meta.dirname, '../../../e2e/fixtures/tls');
  let server: EmbeddedPostgresServer;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  beforeAll(async () => {
    server = await spawnEmbeddedPostgres({ tls: { certFile: join(tls, 'server.crt'), keyFile: join(tls, 'server.key') } });
    process.on('warning', onWarning);
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await server?.stop();
  });
  /** Whether the store's own connections (application_name tagrelay) are encrypted, as the server sees them. */
  async function storeConnectionsEncrypted(): Promise<boolean[]> {
    const rows = await sql<{ ssl: boolean }>(
      `${server.url}?sslmode=disable`,
      `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tagrelay'`,
    );
    return rows.map((r) => r.ssl);
  }

  it.each([
    ['require: encrypted, the certificate not checked', 'sslmode=require'],
    ['verify-full against the CA given', `sslmode=verify-full&sslrootcert=${join(tls, 'ca.crt')}`],
    ['verify-ca against the CA given', `sslmode=verify-ca&sslrootcert=${join(tls, 'ca.crt')}`],
    ['prefer, with a server that offers SSL', 'sslmode=prefer'],
  ])('%s', async (what, query) => {
    const store = await PostgresStore.open(`${server.url}?${query}`);
    try {
      expect((await store.ingest([newEvent(`evt-ssl-${what.split(':')[0]!.replace(/\W/g, '-')}`, ['x'])])).stored).toBe(1);
      const encrypted = await storeConnectionsEncrypted();
      expect(encrypted.length).toBeGreaterThan(0);
      expect(encrypted.every(Boolean)).toBe(true);
    } finally {
      await store.close();
    }
    expect(warnings.filter((w) => /SSL/.test(w))).toEqual([]); // no "SECURITY WARNING" at each start
  });

  it('verify-full without the CA checks against the system CAs and is refused in one line, without the password', async () => {
    const url = `${server.url}?sslmode=verify-full`;
    const error = await PostgresStore.open(url).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/^cannot connect to the PostgreSQL store postgres:\/\/127\.0\.0\.1:\d+\/postgres: .*certificate/);
    expect((error as Error).message).not.toContain(new URL(server.url).password);
  });

  it('prefer, with a server that offers no SSL, connects without (libpq\'s default mode)', async () => {
    const db = await testDatabase(); // the test run's server
    try {
      const store = await PostgresStore.open(`${db.url}?sslmode=prefer`);
      expect((await store.ingest([newEvent('evt-ssl-prefer', ['x'])])).stored).toBe(1);
      await store.close();
    } finally {
      await db.drop();
    }
  });

  it('verify-ca without sslrootcert is refused before connecting', async () => {
    await expect(PostgresStore.open(`${server.url}?sslmode=verify-ca`)).rejects.toThrow(/cannot connect to the PostgreSQL store .*sslrootcert/);
  });

  it('a URL that chose uselibpqcompat itself is left as it is', () => {
    expect(withLibpqSslModes('postgres://h/db?uselibpqcompat=false&sslmode=require')).toBe('postgres://h/db?uselibpqcompat=false&sslmode=require');
    expect(withLibpqSslModes('postgres://h/db')).toBe('postgres://h/db');
    expect(withLibpqSslModes('postgres://h/db?sslmode=require')).toBe('postgres://h/db?sslmode=require&uselibpqcompat=true');
  });
});
