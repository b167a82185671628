import type Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StoredEvent } from '../event.js';
import { lockSqliteStore } from './sqliteLock.js';
import { firstAttemptId, firstAttemptWaitsSql, seqOfFirstAttempt, waitingFirstAttempts, type EventRoutes } from './firstAttempts.js';
import { openDatabase } from './sqliteSchema.js';
import { packIngestRows } from './sqliteIngestRows.js';
import { GroupCommitter, type WriteOp, type WriteResult } from './sqliteWrites.js';
import type {
  ClaimedDelivery,
  IdConflict,
  ReplayableState,
  DeliveryRecord,
  DeliveryUpdate,
  DestinationStats,
  EventQuery,
  IngestResult,
  NewEvent,
  Forgotten,
  VisitorMemory,
  VisitorUpdate,
  ConversionClaim,
  Person,
  PurgeCutoffs,
  Store,
} from './types.js';
import { StoreError } from './types.js';

/** Where writes go: a writer thread (tagrelay serve) or this thread (operator commands, tests). */
interface Writer {
  write(w: WriteOp): Promise<WriteResult>;
  /** Why writes fail, when the writer is gone. */
  readonly failure?: Error;
  close(): Promise<void>;
}

class ThreadWriter implements Writer {
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (r: WriteResult) => void; reject: (e: Error) => void }>();
  /** Writes of this turn of the event loop, posted to the writer thread together. */
  private outbox: { seq: number; write: WriteOp }[] = [];
  failure?: Error;

  constructor(script: URL, path: string) {
    this.worker = new Worker(script, { workerData: { path } });
    this.worker.on('message', (replies: { seq: number; result?: WriteResult; error?: string }[]) => {
      for (const m of replies) {
        const w = this.waiting.get(m.seq);
        if (!w) continue;
        this.waiting.delete(m.seq);
        if (m.error !== undefined) w.reject(new Error(`sqlite: ${m.error}`));
        else w.resolve(m.result);
      }
    });
    // If the writer thread dies, every write fails (the tag retries); nothing acknowledged is lost.
    const fail = (e: Error) => {
      this.failure = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`sqlite writer thread exited (${code})`)));
  }

  write(write: WriteOp): Promise<WriteResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const seq = ++this.seq;
      this.waiting.set(seq, { resolve, reject });
      if (this.outbox.push({ seq, write }) === 1) {
        setImmediate(() => {
          const batch = this.outbox;
          this.outbox = [];
          this.worker.postMessage(batch);
        });
      }
    });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    const closed = new Promise<void>((r) => this.worker.once('message', () => r()));
    this.worker.postMessage('close');
    await closed;
    await this.worker.terminate();
  }
}

class InlineWriter implements Writer {
  private readonly committer: GroupCommitter;
  constructor(db: Database.Database) {
    this.committer = new GroupCommitter(db);
  }
  write(write: WriteOp): Promise<WriteResult> {
    return new Promise((resolve, reject) => this.committer.enqueue(write, (e, r) => (e ? reject(e) : resolve(r))));
  }
  async close(): Promise<void> {
    this.committer.commit();
  }
}

/** How many due ids a claim reads ahead (at least), and for how long they may be taken without reading again. */
const READ_AHEAD = 256;
const READ_AHEAD_MS = 1000;
/** How many events a claim reads for first attempts at most: SCAN_SPANS spans of SCAN_SPAN seqs. */
const SCAN_SPAN = 50_000;
const SCAN_SPANS = 4;

/** An event with deliveries that have no row yet: its routes, and the destinations that have one (JSON). */
/** An event with routes as the statements read it: the destinations of its rows as JSON. */
type EventRouteRows = Omit<EventRoutes, 'withRows'> & { rows: string };

/**
 * Where a destination's first attempts stand: the events up to `scanned` are read; `queue` holds the
 * attempts read and not yet taken, `taken` those leased and not yet reported on.
 */
interface FirstAttempts {
  scanned: number;
  queue: number[];
  taken: Set<number>;
  /** The cursor last written: every delivery of the events up to it has a row. */
  written: number;
}

/**
 * The embedded store: one SQLite file (WAL, fsync on every commit). Writes are group-committed on a
 * writer thread; reads and claims run on this thread. One process serves a store, so the leases on
 * claimed deliveries live in memory: a crash or restart voids them and the deliveries are due again, as
 * is one whose lease runs out without a report.
 *
 * A delivery gets its row at its first attempt (see firstAttempts.ts): an event is one row
 * whatever its destinations, and a delivery that succeeds at once is written once. Claims take the
 * retries due (rows) first, then first attempts in event order, from each destination's cursor.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly writer: Writer;
  /**
   * Deliveries handed to a lane and not yet reported back, per destination, with when their lease ends:
   * one never reported on (its lane could not go on: the store failed meanwhile) is due again then.
   */
  private readonly leased = new Map<string, Map<number, number>>();
  /** Due ids read ahead of the claims that will take them, per destination, oldest first; and when. */
  private readonly ahead = new Map<string, { ids: number[]; next: number; readAt: number }>();
  private readonly firsts = new Map<string, FirstAttempts>();
  private readonly stmts;
  /** Releases the lock that keeps a second collector off this store (tagrelay serve). */
  private readonly unlock?: () => void;
  readonly localDirectory?: string;

  /**
   * `thread`: write on a writer thread (tagrelay serve); otherwise on this thread. `lock` (default:
   * with `thread`): hold the store's lock, so a second collector on it stops at once.
   */
  constructor(path: string, opts: { thread: boolean; lock?: boolean } = { thread: true }) {
    if ((opts.lock ?? opts.thread) && path !== ':memory:') {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (e) {
        throw new StoreError(`cannot open the SQLite store ${path}: ${(e as Error).message}`);
      }
      this.unlock = lockSqliteStore(path);
    }
    try {
      this.db = openDatabase(path);
    } catch (e) {
      this.unlock?.();
      throw e;
    }
    if (path !== ':memory:') this.localDirectory = dirname(path);
    const script = new URL('./sqliteWriter.worker.js', import.meta.url);
    this.writer =
      opts.thread && path !== ':memory:' && existsSync(fileURLToPath(script))
        ? new ThreadWriter(script, path)
        : new InlineWriter(this.db);
    this.stmts = {
      // Ids first, from the due index alone; the events only for the deliveries taken.
      dueIds: this.db
        .prepare(
          `SELECT id FROM deliveries WHERE destination = ? AND state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`,
        )
        .pluck(),
      load: this.db.prepare(
        `SELECT d.id, d.destination, d.attempts, d.created_at AS createdAt, e.body
           FROM json_each(?) j JOIN deliveries d ON d.id = j.value AND d.state = 'pending' JOIN events e ON e.seq = d.event_seq`,
      ),
      lastSeq: this.db.prepare('SELECT max(seq) FROM events').pluck(),
      // The destination's own cursor, or the one every destination starts from.
      cursorOf: this.db
        .prepare(`SELECT seq FROM lane_cursors WHERE destination IN (?, '*') ORDER BY destination = '*' LIMIT 1`)
        .pluck(),
      firstAttempts: this.db.prepare(
        `SELECT seq, routes, received_at AS receivedAt FROM events e
          WHERE seq > @from AND seq <= @to AND instr(routes, @key) > 0
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.destination = @destination)
          ORDER BY seq LIMIT @limit`,
      ),
      loadFirst: this.db.prepare(
        `SELECT e.seq, e.routes, e.received_at AS createdAt, e.body FROM json_each(?) j JOIN events e ON e.seq = j.value
          WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.destination = ?)`,
      ),
      counts: this.db.prepare(`SELECT destination, state, n FROM delivery_counts`),
      oldestWaiting: this.db
        .prepare(`SELECT MIN(created_at) FROM deliveries WHERE destination = ? AND state = 'pending'`)
        .pluck(),
      recentFirstAttempts: this.db.prepare(
        `SELECT e.seq, e.id AS eventId, e.name AS eventName, e.routes, e.received_at AS receivedAt,
                (SELECT json_group_array(destination) FROM deliveries d WHERE d.event_seq = e.seq) AS rows
           FROM (SELECT * FROM events ORDER BY seq DESC LIMIT @window) e
          WHERE ${firstAttemptWaitsSql('e')} ORDER BY e.seq DESC LIMIT @limit`,
      ),
      eventFirstAttempts: this.db.prepare(
        `SELECT e.seq, e.id AS eventId, e.name AS eventName, e.routes, e.received_at AS receivedAt,
                (SELECT json_group_array(destination) FROM deliveries d WHERE d.event_seq = e.seq) AS rows
           FROM json_each(?) j JOIN events e ON e.id = j.value WHERE ${firstAttemptWaitsSql('e')}`,
      ),
      recentDeliveries: this.db.prepare(
        `SELECT d.id, e.id AS eventId, e.name AS eventName, d.destination, d.state, d.attempts,
                d.created_at AS createdAt, d.updated_at AS updatedAt, d.status, d.detail, d.request
           FROM deliveries d JOIN events e ON e.seq = d.event_seq ORDER BY d.event_seq DESC, d.destination LIMIT ?`,
      ),
      recentEvents: this.db.prepare('SELECT body FROM events ORDER BY rowid DESC LIMIT ?'),
      countEnded: this.db
        .prepare(
          `SELECT COUNT(*) FROM deliveries WHERE destination = ? AND state IN (SELECT value FROM json_each(?)) AND updated_at >= ?`,
        )
        .pluck(),
      visitors: this.db.prepare(
        `SELECT anonymous_id AS id, click_ids AS clickIds, consent, updated_at AS updatedAt FROM visitors
          WHERE anonymous_id IN (SELECT value FROM json_each(?)) AND updated_at >= ?`,
      ),
      recentConflicts: this.db.prepare(
        `SELECT event_id AS eventId, name, received_at AS receivedAt, body FROM id_conflicts ORDER BY seq DESC LIMIT ?`,
      ),
      // The debug page's filters: an id by its index, the others within the newest `window` events.
      findById: this.db.prepare(`SELECT seq, name, received_at, body FROM events WHERE id = @id`),
      findRecent: this.db.prepare(
        `SELECT body FROM (SELECT seq, name, received_at, body FROM events ORDER BY seq DESC LIMIT @window)
          WHERE (@name IS NULL OR name = @name)
            AND (@since IS NULL OR received_at >= @since)
            AND (@until IS NULL OR received_at <= @until)
            AND (@clickId IS NULL OR EXISTS (SELECT 1 FROM json_each(body, '$.clickIds') WHERE value = @clickId))
          ORDER BY seq DESC LIMIT @limit`,
      ),
      eventDeliveries: this.db.prepare(
        `SELECT d.id, e.id AS eventId, e.name AS eventName, d.destination, d.state, d.attempts,
                d.created_at AS createdAt, d.updated_at AS updatedAt, d.next_at AS nextAt, d.status, d.detail, d.request
           FROM json_each(?) j JOIN events e ON e.id = j.value JOIN deliveries d ON d.event_seq = e.seq
          ORDER BY abs(d.id)`,
      ),
    };
  }

  async ingest(events: NewEvent[]): Promise<IngestResult> {
    return (await this.writer.write({ op: 'ingest', rows: packIngestRows(events) })) as IngestResult;
  }

  async claim(destination: string, limit: number, now: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    let leased = this.leased.get(destination);
    if (!leased) this.leased.set(destination, (leased = new Map()));
    // Leased rows are still pending in the table, so a read of the due index passes them first: about
    // 64 rows for 14 taken, a tenth of a drain's work. So it reads ahead, for the next claims too, and
    // again once that is used up or a second old (a delivery that fell due meanwhile waits no longer).
    let ahead = this.ahead.get(destination);
    if (!ahead || ahead.ids.length - ahead.next < limit || now < ahead.readAt || now - ahead.readAt >= READ_AHEAD_MS) {
      for (const [id, until] of leased) {
        if (until > now) continue;
        leased.delete(id);
        // A first attempt never reported on is taken again (unless it has a row meanwhile).
        const f = this.firsts.get(destination);
        if (f?.taken.delete(id)) f.queue.unshift(id);
      }
      const due = this.stmts.dueIds.all(destination, now, Math.max(limit * 4, READ_AHEAD) + leased.size) as number[];
      this.ahead.set(destination, (ahead = { ids: due.filter((id) => !leased.has(id)), next: 0, readAt: now }));
    }
    const ids = ahead.ids.slice(ahead.next, ahead.next + limit);
    ahead.next += ids.length;
    const retries = ids.length ? this.claimRows(ids, leased, now + leaseMs) : [];
    return retries.length < limit
      ? [...retries, ...this.claimFirstAttempts(destination, limit - retries.length, leased, now + leaseMs)]
      : retries;
  }

  private claimRows(ids: number[], leased: Map<number, number>, until: number): ClaimedDelivery[] {
    for (const id of ids) leased.set(id, until);
    const rows = this.stmts.load.all(JSON.stringify(ids)) as {
      id: number;
      destination: string;
      attempts: number;
      createdAt: number;
      body: string;
    }[];
    if (rows.length < ids.length) {
      const found = new Set(rows.map((r) => r.id));
      for (const id of ids) if (!found.has(id)) leased.delete(id);
    }
    return rows.map((r) => ({
      id: r.id,
      destination: r.destination,
      attempts: r.attempts,
      createdAt: r.createdAt,
      event: JSON.parse(r.body) as StoredEvent,
    }));
  }

  private firstAttemptsOf(destination: string): FirstAttempts {
    let f = this.firsts.get(destination);
    if (!f) {
      const from = (this.stmts.cursorOf.get(destination) as number | undefined) ?? 0;
      this.firsts.set(destination, (f = { scanned: from, queue: [], taken: new Set(), written: from }));
    }
    return f;
  }

  /** Deliveries not attempted yet, in event order: their events are read ahead, from the destination's cursor. */
  private claimFirstAttempts(destination: string, limit: number, leased: Map<number, number>, until: number): ClaimedDelivery[] {
    const f = this.firstAttemptsOf(destination);
    if (f.queue.length < limit) {
      const last = (this.stmts.lastSeq.get() as number | null) ?? 0;
      const want = Math.max(limit * 4, READ_AHEAD);
      // A span of events at a time, a few spans a claim: a destination added to a large store reads its
      // way through the events over several claims, without holding this thread for seconds.
      for (let spans = 0; f.queue.length < limit && f.scanned < last && spans < SCAN_SPANS; spans++) {
        const to = Math.min(last, f.scanned + SCAN_SPAN);
        const rows = this.stmts.firstAttempts.all({ from: f.scanned, to, key: `,${destination},`, destination, limit: want }) as {
          seq: number;
          routes: string;
        }[];
        for (const r of rows) f.queue.push(firstAttemptId(r.seq, r.routes, destination));
        f.scanned = rows.length < want ? to : rows[rows.length - 1]!.seq;
      }
    }
    const ids = f.queue.splice(0, limit);
    if (!ids.length) return [];
    for (const id of ids) {
      leased.set(id, until);
      f.taken.add(id);
    }
    const rows = this.stmts.loadFirst.all(JSON.stringify(ids.map(seqOfFirstAttempt)), destination) as {
      seq: number;
      routes: string;
      createdAt: number;
      body: string;
    }[];
    const claimed = rows.map((r) => ({
      id: firstAttemptId(r.seq, r.routes, destination),
      destination,
      attempts: 0,
      createdAt: r.createdAt,
      event: JSON.parse(r.body) as StoredEvent,
    }));
    if (claimed.length < ids.length) {
      const found = new Set(claimed.map((c) => c.id));
      for (const id of ids) {
        if (found.has(id)) continue;
        leased.delete(id);
        f.taken.delete(id);
      }
    }
    return claimed;
  }

  /**
   * The cursors worth writing with these results: for each destination, the event before the first
   * whose delivery is read and not yet reported on (those reported now are written in the same commit).
   */
  private cursors(reported: Set<number>): [string, number][] {
    const out: [string, number][] = [];
    for (const [destination, f] of this.firsts) {
      let low = f.scanned;
      for (const id of f.queue) low = Math.min(low, seqOfFirstAttempt(id) - 1);
      for (const id of f.taken) if (!reported.has(id)) low = Math.min(low, seqOfFirstAttempt(id) - 1);
      if (low > f.written) out.push([destination, low]);
    }
    return out;
  }

  async update(updates: DeliveryUpdate[]): Promise<void> {
    const cursors = this.cursors(new Set(updates.map((u) => u.id)));
    await this.writer.write({ op: 'update', updates, ...(cursors.length ? { cursors } : {}) });
    for (const [destination, seq] of cursors) {
      const f = this.firsts.get(destination)!;
      f.written = Math.max(f.written, seq);
    }
    for (const f of this.firsts.values()) for (const u of updates) f.taken.delete(u.id);
    // Leased until the result is written: one that failed to be written is not handed out again while
    // its lane tries again, only once its lease runs out.
    for (const set of this.leased.values()) for (const u of updates) set.delete(u.id);
  }

  async retryNow(ids: number[], now: number): Promise<void> {
    if (ids.length) await this.writer.write({ op: 'retryNow', ids, now });
  }

  async stats(): Promise<DestinationStats[]> {
    const rows = this.stmts.counts.all() as { destination: string; state: string; n: number }[];
    const by = new Map<string, DestinationStats>();
    for (const r of rows) {
      const s = by.get(r.destination) ?? {
        destination: r.destination,
        pending: 0,
        delivered: 0,
        skipped: 0,
        rejected: 0,
        dead: 0,
      };
      (s as unknown as Record<string, number>)[r.state] = r.n;
      if (r.state === 'pending' && r.n > 0) {
        const retry = this.stmts.oldestWaiting.get(r.destination) as number | null;
        const first = this.stmts.firstAttempts.get({
          from: this.firsts.get(r.destination)?.written ?? this.stmts.cursorOf.get(r.destination) ?? 0,
          to: Number.MAX_SAFE_INTEGER,
          key: `,${r.destination},`,
          destination: r.destination,
          limit: 1,
        }) as { receivedAt: number } | undefined;
        const oldest = Math.min(retry ?? Infinity, first?.receivedAt ?? Infinity);
        if (oldest < Infinity) s.oldestPendingAt = oldest;
      }
      by.set(r.destination, s);
    }
    return [...by.values()];
  }

  async queueDepth(): Promise<Map<string, number>> {
    const rows = this.stmts.counts.all() as { destination: string; state: string; n: number }[];
    return new Map(rows.filter((r) => r.state === 'pending').map((r) => [r.destination, r.n]));
  }

  async recentDeliveries(limit: number): Promise<DeliveryRecord[]> {
    const rows = (this.stmts.recentDeliveries.all(limit) as (DeliveryRecord & { status: number | null })[]).map((r) => ({
      ...r,
      status: r.status ?? undefined,
      detail: r.detail ?? undefined,
      request: r.request ?? undefined,
    }));
    const waiting = this.waitingFirstAttempts(this.stmts.recentFirstAttempts.all({ window: 10_000, limit }) as EventRouteRows[]);
    return [...rows, ...waiting].sort((a, b) => b.createdAt - a.createdAt || a.destination.localeCompare(b.destination)).slice(0, limit);
  }

  /** The deliveries without a row yet of these events (their rows' destinations as JSON). */
  private waitingFirstAttempts(events: EventRouteRows[]): (DeliveryRecord & { nextAt: number })[] {
    return waitingFirstAttempts(events.map(({ rows, ...e }) => ({ ...e, withRows: JSON.parse(rows) as string[] })));
  }

  async recentEvents(limit: number): Promise<StoredEvent[]> {
    return (this.stmts.recentEvents.all(limit) as { body: string }[]).map((r) => JSON.parse(r.body) as StoredEvent);
  }

  async recentConflicts(limit: number): Promise<IdConflict[]> {
    return this.stmts.recentConflicts.all(limit) as IdConflict[];
  }

  async findEvents(q: EventQuery): Promise<StoredEvent[]> {
    const params = {
      name: q.name ?? null,
      since: q.since ?? null,
      until: q.until ?? null,
      clickId: q.clickId ?? null,
    };
    if (q.id !== undefined) {
      const row = this.stmts.findById.get({ id: q.id }) as { name: string; received_at: number; body: string } | undefined;
      if (!row) return [];
      const event = JSON.parse(row.body) as StoredEvent;
      const matches =
        (params.name === null || row.name === params.name) &&
        (params.since === null || row.received_at >= params.since) &&
        (params.until === null || row.received_at <= params.until) &&
        (params.clickId === null || Object.values(event.clickIds ?? {}).includes(params.clickId));
      return matches && q.limit > 0 ? [event] : [];
    }
    const rows = this.stmts.findRecent.all({ ...params, window: q.window ?? 10_000, limit: q.limit }) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as StoredEvent);
  }

  async eventDeliveries(eventIds: readonly string[]): Promise<DeliveryRecord[]> {
    if (!eventIds.length) return [];
    const rows = [
      ...(this.stmts.eventDeliveries.all(JSON.stringify(eventIds)) as (DeliveryRecord & {
        status: number | null;
        detail: string | null;
        request: string | null;
        nextAt: number;
      })[]),
      ...this.waitingFirstAttempts(this.stmts.eventFirstAttempts.all(JSON.stringify(eventIds)) as EventRouteRows[]),
    ].sort((a, b) => Math.abs(a.id) - Math.abs(b.id)); // oldest first (a first attempt's id is minus its event's seq × 1024 and its place)
    return rows.map((r) => {
      const inFlight = r.state === 'pending' && (this.leased.get(r.destination)?.get(r.id) ?? 0) > Date.now();
      return {
        ...r,
        status: r.status ?? undefined,
        detail: r.detail ?? undefined,
        request: r.request ?? undefined,
        nextAt: r.state === 'pending' && !inFlight ? r.nextAt : undefined,
        inFlight: r.state === 'pending' ? inFlight : undefined,
      };
    });
  }

  async requeue(
    destination: string,
    states: readonly ReplayableState[],
    since: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const total = this.stmts.countEnded.get(destination, JSON.stringify(states), since) as number;
    let done = 0;
    onProgress?.(0, total);
    while (done < total) {
      const changed = (await this.writer.write({ op: 'requeue', destination, states, since, limit: 1000 })) as number;
      if (changed === 0) break;
      done += changed;
      onProgress?.(done, total);
    }
    return done;
  }

  async forget(person: Person): Promise<Forgotten> {
    return (await this.writer.write({ op: 'forget', person })) as Forgotten;
  }

  async rememberVisitors(updates: VisitorUpdate[]): Promise<void> {
    if (updates.length) await this.writer.write({ op: 'rememberVisitors', updates });
  }

  async visitors(anonymousIds: string[], since: number): Promise<Map<string, VisitorMemory>> {
    const rows = this.stmts.visitors.all(JSON.stringify(anonymousIds), since) as { id: string; clickIds: string; consent: string | null; updatedAt: number }[];
    return new Map(
      rows.map((r) => [r.id, { clickIds: JSON.parse(r.clickIds), consent: r.consent ? JSON.parse(r.consent) : undefined, updatedAt: r.updatedAt }]),
    );
  }

  async claimConversions(claims: ConversionClaim[]): Promise<boolean[]> {
    return claims.length ? ((await this.writer.write({ op: 'claimConversions', claims })) as boolean[]) : [];
  }

  async purge(cutoffs: PurgeCutoffs): Promise<number> {
    let purged = 0;
    for (;;) {
      const n = (await this.writer.write({ op: 'purge', ...cutoffs, limit: 1000 })) as number;
      purged += n;
      if (n < 1000) return purged;
    }
  }

  /** SQLite's online backup: a consistent copy while the collector writes. */
  async backup(path: string): Promise<void> {
    await this.db.backup(path);
  }

  async check(): Promise<void> {
    if (this.writer.failure) throw this.writer.failure;
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.db.close();
    this.unlock?.();
  }
}
