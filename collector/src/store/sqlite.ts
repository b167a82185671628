import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoredEvent } from '../event.js';
import type {
  ClaimedDelivery,
  DeliveryRecord,
  DeliveryUpdate,
  DestinationStats,
  IngestResult,
  NewEvent,
  Store,
} from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body        TEXT NOT NULL,
  scrubbed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  id          INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending',
  attempts    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  next_at     INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  status      INTEGER,
  detail      TEXT,
  request     TEXT,
  UNIQUE (event_id, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (destination, next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_updated ON deliveries (updated_at);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (destination, updated_at) WHERE state IN ('dead', 'rejected');
`;

interface PendingWrite {
  run: () => unknown;
  resolve: (r: any) => void;
  reject: (e: unknown) => void;
}

/**
 * The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on disk
 * before `/collect` answers. Requests that arrive in the same turn of the event loop are committed
 * together in one transaction (group commit): one fsync for many requests.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private readonly stmts;

  /** `owner`: this process runs the delivery workers (tagrelay serve), so leases left by a dead one are void. */
  constructor(path: string, opts: { owner: boolean } = { owner: true }) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // One process serves an SQLite store: leases left by a process that died are void.
    if (opts.owner) this.db.prepare(`UPDATE deliveries SET lease_until = 0 WHERE state = 'pending' AND lease_until > 0`).run();
    this.stmts = {
      insertEvent: this.db.prepare(
        'INSERT INTO events (id, name, received_at, body) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      ),
      insertDelivery: this.db.prepare(
        `INSERT INTO deliveries (event_id, destination, created_at, updated_at, next_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (event_id, destination) DO NOTHING`,
      ),
      due: this.db.prepare(
        `SELECT d.id, d.destination, d.attempts, d.created_at AS createdAt, e.body
           FROM deliveries d JOIN events e ON e.id = d.event_id
          WHERE d.destination = ? AND d.state = 'pending' AND d.next_at <= ? AND d.lease_until <= ?
          ORDER BY d.next_at LIMIT ?`,
      ),
      lease: this.db.prepare('UPDATE deliveries SET lease_until = ? WHERE id = ?'),
      update: this.db.prepare(
        `UPDATE deliveries SET state = ?, attempts = attempts + ?, next_at = COALESCE(?, next_at), lease_until = 0,
                updated_at = ?, status = COALESCE(?, status), detail = COALESCE(?, detail), request = COALESCE(?, request)
          WHERE id = ?`,
      ),
      stats: this.db.prepare(
        `SELECT destination, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries GROUP BY destination, state`,
      ),
      recentDeliveries: this.db.prepare(
        `SELECT d.id, d.event_id AS eventId, e.name AS eventName, d.destination, d.state, d.attempts,
                d.created_at AS createdAt, d.updated_at AS updatedAt, d.status, d.detail, d.request
           FROM deliveries d JOIN events e ON e.id = d.event_id ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`,
      ),
      recentEvents: this.db.prepare('SELECT body FROM events ORDER BY received_at DESC, rowid DESC LIMIT ?'),
      // Personal data is kept only while a delivery may still need it: once every delivery of the
      // event is delivered or skipped, user_data leaves the event (dead letters keep it for replay).
      scrub: this.db.prepare(
        `UPDATE events SET body = json_remove(body, '$.properties.user_data'), scrubbed = 1
          WHERE id = (SELECT event_id FROM deliveries WHERE id = ?) AND scrubbed = 0
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id
                              AND d.state NOT IN ('delivered', 'skipped') AND d.id != ?)`,
      ),
      // ... and the recorded requests keep their first line (method and URL) only; dry runs keep theirs.
      scrubRequests: this.db.prepare(
        `UPDATE deliveries SET request = substr(request, 1, instr(request, char(10)) - 1) || ' [body removed after delivery]'
          WHERE event_id = (SELECT event_id FROM deliveries WHERE id = ?) AND status IS NOT NULL AND instr(request, char(10)) > 0`,
      ),
      requeue: this.db.prepare(
        `UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, lease_until = 0, created_at = ?, updated_at = ?
          WHERE id IN (SELECT id FROM deliveries WHERE destination = ? AND state IN ('dead', 'rejected') AND updated_at >= ?
                       ORDER BY id LIMIT ?)`,
      ),
      countDead: this.db.prepare(
        `SELECT COUNT(*) AS n FROM deliveries WHERE destination = ? AND state IN ('dead', 'rejected') AND updated_at >= ?`,
      ),
      purge: this.db.prepare(
        `DELETE FROM events WHERE rowid IN (
           SELECT rowid FROM events e WHERE e.received_at < ?
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                                AND (d.state = 'pending' OR (d.state IN ('dead', 'rejected') AND d.updated_at >= ?)))
            LIMIT ?)`,
      ),
    };
  }

  /**
   * Queues a write; every write queued in the same turn of the event loop commits in one
   * transaction, and each promise resolves only after that commit.
   */
  private write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.commitQueued());
      }
    });
  }

  private commitQueued(): void {
    const batch = this.queue;
    this.queue = [];
    this.flushScheduled = false;
    let results: unknown[];
    try {
      results = this.db.transaction(() => batch.map((w) => w.run()))();
    } catch (e) {
      // One bad write must not fail the others: retry them one transaction each.
      for (const w of batch) {
        try {
          w.resolve(this.db.transaction(w.run)());
        } catch (err) {
          w.reject(err);
        }
      }
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]));
  }

  ingest(events: NewEvent[]): Promise<IngestResult> {
    return this.write(() => {
      const now = Date.now();
      let stored = 0;
      for (const { event, destinations } of events) {
        const inserted = this.stmts.insertEvent.run(event.id, event.name, event.context.receivedAt, JSON.stringify(event));
        if (inserted.changes === 0) continue;
        stored++;
        for (const d of destinations) this.stmts.insertDelivery.run(event.id, d, now, now, now);
      }
      return { stored, duplicates: events.length - stored };
    });
  }

  async claim(destination: string, limit: number, now: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    // A lease needs no fsync: a restart voids every lease anyway.
    this.db.pragma('synchronous = OFF');
    try {
      return this.claimLeased(destination, limit, now, leaseMs);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  private claimLeased(destination: string, limit: number, now: number, leaseMs: number): ClaimedDelivery[] {
    return this.db.transaction(() => {
      const rows = this.stmts.due.all(destination, now, now, limit) as {
        id: number;
        destination: string;
        attempts: number;
        createdAt: number;
        body: string;
      }[];
      for (const r of rows) this.stmts.lease.run(now + leaseMs, r.id);
      return rows.map((r) => ({
        id: r.id,
        destination: r.destination,
        attempts: r.attempts,
        createdAt: r.createdAt,
        event: JSON.parse(r.body) as StoredEvent,
      }));
    })();
  }

  update(updates: DeliveryUpdate[]): Promise<void> {
    return this.write(() => {
      const now = Date.now();
      for (const u of updates) {
        this.stmts.update.run(
          u.state,
          u.attempted ? 1 : 0,
          u.nextAt ?? null,
          now,
          u.status ?? null,
          u.detail ?? null,
          u.request ?? null,
          u.id,
        );
        if ((u.state === 'delivered' || u.state === 'skipped') && this.stmts.scrub.run(u.id, u.id).changes) {
          this.stmts.scrubRequests.run(u.id);
        }
      }
    });
  }

  async stats(): Promise<DestinationStats[]> {
    const rows = this.stmts.stats.all() as { destination: string; state: string; n: number; oldest: number }[];
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
      if (r.state === 'pending') s.oldestPendingAt = r.oldest;
      by.set(r.destination, s);
    }
    return [...by.values()];
  }

  async recentDeliveries(limit: number): Promise<DeliveryRecord[]> {
    return (this.stmts.recentDeliveries.all(limit) as (DeliveryRecord & { status: number | null })[]).map((r) => ({
      ...r,
      status: r.status ?? undefined,
      detail: r.detail ?? undefined,
      request: r.request ?? undefined,
    }));
  }

  async recentEvents(limit: number): Promise<StoredEvent[]> {
    return (this.stmts.recentEvents.all(limit) as { body: string }[]).map((r) => JSON.parse(r.body) as StoredEvent);
  }

  async requeueDead(destination: string, since: number, onProgress?: (done: number, total: number) => void): Promise<number> {
    const total = (this.stmts.countDead.get(destination, since) as { n: number }).n;
    let done = 0;
    onProgress?.(0, total);
    while (done < total) {
      const now = Date.now();
      const changed = await this.write(() => this.stmts.requeue.run(now, now, now, destination, since, 1000).changes);
      if (changed === 0) break;
      done += changed;
      onProgress?.(done, total);
    }
    return done;
  }

  async purge(deliveredBefore: number, deadBefore: number): Promise<number> {
    let purged = 0;
    for (;;) {
      const n = await this.write(() => this.stmts.purge.run(deliveredBefore, deadBefore, 1000).changes);
      purged += n;
      if (n < 1000) return purged;
    }
  }

  async check(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.queue.length) this.commitQueued();
    this.db.close();
  }
}
