import type Database from 'better-sqlite3';
import { hash } from 'node:crypto';
import { emailKey } from '../emailKey.js';
import {
  destinationOfFirstAttempt,
  destinationsOf,
  ERASED_SEQ_ROW,
  firstAttemptWaitsSql,
  seqOfFirstAttempt,
} from './firstAttempts.js';
import { unpackIngestRows, type IngestRows } from './sqliteIngestRows.js';
import type { DeliveryUpdate, Forgotten, IngestResult, Person, PurgeCutoffs, ReplayableState, VisitorUpdate, ConversionClaim } from './types.js';

/** Every write the SQLite store makes, by name, so it can run on a writer thread. */
export type WriteOp =
  | { op: 'ingest'; rows: IngestRows }
  | { op: 'update'; updates: DeliveryUpdate[]; cursors?: [destination: string, seq: number][] }
  | { op: 'retryNow'; ids: number[]; now: number }
  | { op: 'requeue'; destination: string; states: readonly ReplayableState[]; since: number; limit: number }
  | ({ op: 'purge'; limit: number } & PurgeCutoffs)
  | { op: 'forget'; person: Person }
  | { op: 'rememberVisitors'; updates: VisitorUpdate[] }
  | { op: 'claimConversions'; claims: ConversionClaim[] };

export type WriteResult = IngestResult | Forgotten | number | boolean[] | undefined;

const INSERT_EVENTS = 'INSERT INTO events (seq, id, name, received_at, body, digest, routes) VALUES';
const EVENT_VALUES = '(?, ?, ?, ?, ?, unhex(?), ?)';
const VALUES_A_ROW = 7;
/**
 * Events a statement inserts: a request's ten in one statement rather than ten (each statement's call,
 * binding and step cost about 0.5 µs an event more: 4.9–5.7 against 5.5–7.6 µs an event, writer CPU).
 */
const EVENTS_A_STATEMENT = 10;

/**
 * The write statements of the SQLite store. `inTransaction` runs writes in one transaction, and `apply` runs
 * one (inside it): the deliveries that ingests add to the pending counts are counted once a transaction.
 */
export function sqliteWrites(db: Database.Database): {
  apply: (w: WriteOp) => WriteResult;
  inTransaction: <T>(writes: () => T) => T;
} {
  const s = {
    insertEvent: db.prepare(`${INSERT_EVENTS} ${EVENT_VALUES} ON CONFLICT (id) DO NOTHING`),
    insertEvents: db.prepare(`${INSERT_EVENTS} ${Array(EVENTS_A_STATEMENT).fill(EVENT_VALUES).join(', ')} ON CONFLICT (id) DO NOTHING`),
    storedSeq: db.prepare('SELECT seq FROM events WHERE id = ?').pluck(),
    lastEventSeq: db.prepare('SELECT max(seq) FROM events').pluck(),
    lastCursor: db.prepare('SELECT max(seq) FROM lane_cursors').pluck(),
    storedDigest: db.prepare('SELECT digest FROM events WHERE id = ?').pluck(),
    insertConflict: db.prepare(
      `INSERT INTO id_conflicts (event_id, name, received_at, body) VALUES (?, ?, ?, json_remove(?, '$.properties.user_data', '$.context'))`,
    ),
    // A first attempt's outcome makes the delivery's row, with the id the attempt had.
    routesOfEvent: db.prepare('SELECT routes FROM events WHERE seq = ?').pluck(),
    // Positional (id, destination, state, attempts, now, next_at or null, now, status, detail, request, seq):
    // binding by name costs a lookup a parameter, a few µs a delivery.
    firstAttempt: db.prepare(
      `INSERT INTO deliveries (id, event_seq, destination, state, attempts, created_at, updated_at, next_at, status, detail, request)
       SELECT ?, seq, ?, ?, ?, received_at, ?, coalesce(?, ?), ?, ?, ? FROM events WHERE seq = ?`,
    ),
    cursor: db.prepare(
      `INSERT INTO lane_cursors (destination, seq) VALUES (?, ?) ON CONFLICT (destination) DO UPDATE SET seq = max(seq, excluded.seq)`,
    ),
    countNew: db.prepare(
      `INSERT INTO delivery_counts (destination, state, n) VALUES (?, 'pending', ?)
       ON CONFLICT (destination, state) DO UPDATE SET n = n + excluded.n`,
    ),
    update: db.prepare(
      `UPDATE deliveries SET state = ?, attempts = attempts + ?, next_at = COALESCE(?, next_at), updated_at = ?,
              status = COALESCE(?, status), detail = COALESCE(?, detail), request = COALESCE(?, request)
        WHERE id = ?`,
    ),
    // Personal data is kept only while a delivery may still need it: once every delivery of the
    // event is delivered or skipped, user_data leaves the event (dead letters keep it for replay) ...
    scrub: db.prepare(
      `UPDATE events SET body = json_remove(body, '$.properties.user_data'), scrubbed = 1
        WHERE seq = (SELECT event_seq FROM deliveries WHERE id = ?) AND scrubbed = 0
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.state NOT IN ('delivered', 'skipped'))
          AND NOT ${firstAttemptWaitsSql('events')}`,
    ),
    // ... and the recorded requests keep their first line (method and URL) only; dry runs keep theirs.
    scrubRequests: db.prepare(
      `UPDATE deliveries SET request = substr(request, 1, instr(request, char(10)) - 1) || ' [body removed after delivery]'
        WHERE event_seq = (SELECT event_seq FROM deliveries WHERE id = ?) AND status IS NOT NULL AND instr(request, char(10)) > 0`,
    ),
    retryNow: db.prepare(`UPDATE deliveries SET next_at = ? WHERE id = ? AND state = 'pending' AND next_at > ?`),
    requeue: db.prepare(
      `UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, created_at = ?, updated_at = ?
        WHERE id IN (SELECT id FROM deliveries WHERE destination = ? AND state IN (SELECT value FROM json_each(?))
                       AND updated_at >= ? ORDER BY id LIMIT ?)`,
    ),
    // Erasure: the visitors (anonymous ids) a person's email or user id was seen with, then every event of the person.
    visitorsOfPerson: db
      .prepare(
        `SELECT DISTINCT json_extract(body, '$.anonymousId') FROM events
          WHERE json_extract(body, '$.anonymousId') IS NOT NULL
            AND ((@emailKey IS NOT NULL AND json_extract(body, '$.context.emailKey') = @emailKey)
              OR (@userId IS NOT NULL AND CAST(json_extract(body, '$.properties.user_id') AS TEXT) = @userId))`,
      )
      .pluck(),
    personEvents: db
      .prepare(
        `SELECT seq FROM events
          WHERE json_extract(body, '$.anonymousId') IN (SELECT value FROM json_each(@anonymousIds))
             OR (@userId IS NOT NULL AND CAST(json_extract(body, '$.properties.user_id') AS TEXT) = @userId)
             OR (@emailKey IS NOT NULL AND json_extract(body, '$.context.emailKey') = @emailKey)`,
      )
      .pluck(),
    // Erased events take their deliveries without rows out of the pending counts.
    routesWithRows: db.prepare(
      `SELECT e.routes, (SELECT json_group_array(destination) FROM deliveries d WHERE d.event_seq = e.seq) AS rows
         FROM events e WHERE e.seq IN (SELECT value FROM json_each(?)) AND e.routes IS NOT NULL`,
    ),
    uncount: db.prepare(`UPDATE delivery_counts SET n = n - ? WHERE destination = ? AND state = 'pending'`),
    deleteDeliveriesOf: db.prepare(`DELETE FROM deliveries WHERE event_seq IN (SELECT value FROM json_each(?))`),
    deleteEvents: db.prepare(`DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?))`),
    deleteConflictsOf: db.prepare(
      `DELETE FROM id_conflicts
        WHERE json_extract(body, '$.anonymousId') IN (SELECT value FROM json_each(@anonymousIds))
           OR (@userId IS NOT NULL AND CAST(json_extract(body, '$.properties.user_id') AS TEXT) = @userId)
           OR event_id IN (SELECT value FROM json_each(@eventIds))`,
    ),
    eventIdsOf: db.prepare(`SELECT id FROM events WHERE seq IN (SELECT value FROM json_each(?))`).pluck(),
    // Later values win, click id by click id; consent as a whole.
    rememberVisitor: db.prepare(
      `INSERT INTO visitors (anonymous_id, click_ids, consent, updated_at) VALUES (@id, @clickIds, @consent, @at)
       ON CONFLICT (anonymous_id) DO UPDATE SET
         click_ids  = CASE WHEN excluded.updated_at >= visitors.updated_at THEN json_patch(visitors.click_ids, excluded.click_ids)
                           ELSE json_patch(excluded.click_ids, visitors.click_ids) END,
         consent    = CASE WHEN excluded.updated_at >= visitors.updated_at THEN coalesce(excluded.consent, visitors.consent)
                           ELSE coalesce(visitors.consent, excluded.consent) END,
         updated_at = max(visitors.updated_at, excluded.updated_at)`,
    ),
    claimConversion: db.prepare(
      `INSERT INTO conversion_sends (conversion, destination, delivery_id, claimed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (conversion, destination) DO NOTHING`,
    ),
    conversionOwner: db
      .prepare(`SELECT delivery_id FROM conversion_sends WHERE conversion = ? AND destination = ?`)
      .pluck(),
    deleteVisitors: db.prepare(`DELETE FROM visitors WHERE anonymous_id IN (SELECT value FROM json_each(?))`),
    purgeVisitors: db.prepare(
      `DELETE FROM visitors WHERE anonymous_id IN (SELECT anonymous_id FROM visitors WHERE updated_at < ? LIMIT ?)`,
    ),
    purgeClaims: db.prepare(
      `DELETE FROM conversion_sends WHERE (conversion, destination) IN (SELECT conversion, destination FROM conversion_sends WHERE claimed_at < ? LIMIT ?)`,
    ),
    purgeConflicts: db.prepare(
      `DELETE FROM id_conflicts WHERE seq IN (SELECT seq FROM id_conflicts WHERE received_at < ? LIMIT ?)`,
    ),
    purge: db.prepare(
      `DELETE FROM events WHERE rowid IN (
         SELECT rowid FROM events e WHERE e.received_at < MAX(@deliveredBefore, @unroutedBefore)
            AND ((e.received_at < @unroutedBefore AND e.routes IS NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq))
              OR (e.received_at < @deliveredBefore
                  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq
                                    AND (d.state = 'pending' OR (d.state IN ('dead', 'rejected') AND d.updated_at >= @deadBefore)))
                  AND NOT ${firstAttemptWaitsSql('e')}))
          LIMIT @limit)`,
    ),
  };

  // Seqs only ever grow, even past events erased since: SQLite would give the seq of the newest event,
  // if erased, to the next one, and a destination's cursor (or its claim, in memory) may have passed it
  // already. So the next seq is past the newest event and every cursor, and an erasure or a purge that
  // takes the newest event writes its seq down (ERASED_SEQ_ROW) in its own commit, for this process and
  // for a collector started later.
  let lastSeq = -1;
  const newestEventSeq = () => (s.lastEventSeq.get() as number | null) ?? 0;
  const keepingNewestSeq = <T>(erase: () => T): T => {
    const newest = newestEventSeq();
    const result = erase();
    if (newestEventSeq() < newest) s.cursor.run(ERASED_SEQ_ROW, newest);
    return result;
  };

  // New pending deliveries, counted when the transaction ends: events by their routes (a group commit's
  // events mostly share a few), then one statement a destination, not one a request.
  const added = new Map<string, number>();
  // And each destination's cursor once a transaction, its furthest: results come a delivery at a time.
  const cursors = new Map<string, number>();
  const inTransaction = db.transaction(<T>(writes: () => T): T => {
    added.clear();
    cursors.clear();
    const result = writes();
    const perDestination = new Map<string, number>();
    for (const [routes, n] of added)
      for (const d of destinationsOf(routes)) perDestination.set(d, (perDestination.get(d) ?? 0) + n);
    for (const [destination, n] of perDestination) s.countNew.run(destination, n);
    for (const [destination, seq] of cursors) s.cursor.run(destination, seq);
    return result;
  }) as <T>(writes: () => T) => T;

  const apply = (w: WriteOp): WriteResult => {
    const now = Date.now();
    switch (w.op) {
      case 'ingest': {
        let stored = 0;
        const conflicts: number[] = [];
        const rows = unpackIngestRows(w.rows);
        // Read once: only this writer stores events, and erasures write the seqs they take past (above).
        if (lastSeq < 0) lastSeq = Math.max((s.lastCursor.get() as number | null) ?? 0, newestEventSeq());
        // Each row its seq, and as statement values; one-shot hashes (no Hash object per event: a third of
        // the cost), as hex: SQLite makes the bytes (unhex), for less than the Buffer a 'buffer' digest
        // allocates (0.85 against 1.5 µs an event).
        const firstSeq = lastSeq + 1;
        const digests: string[] = [];
        const values: (string | number | null)[] = [];
        for (const row of rows) {
          const digest = hash('sha1', row.body.slice(0, row.contentLength), 'hex');
          digests.push(digest);
          values.push(++lastSeq, row.id, row.name, row.receivedAt, row.body, digest, row.routes);
        }
        const insertedAt = new Uint8Array(rows.length);
        for (let i = 0; i < rows.length; ) {
          if (rows.length - i >= EVENTS_A_STATEMENT) {
            const chunk = values.slice(i * VALUES_A_ROW, (i + EVENTS_A_STATEMENT) * VALUES_A_ROW);
            const { changes } = s.insertEvents.run(chunk);
            // All stored (the rule); otherwise which were is read back: a row stored now has its own seq.
            for (let k = i; k < i + EVENTS_A_STATEMENT; k++) {
              insertedAt[k] = changes === EVENTS_A_STATEMENT || s.storedSeq.get(rows[k]!.id) === firstSeq + k ? 1 : 0;
            }
            i += EVENTS_A_STATEMENT;
          } else {
            insertedAt[i] = s.insertEvent.run(values.slice(i * VALUES_A_ROW, (i + 1) * VALUES_A_ROW)).changes;
            i++;
          }
        }
        rows.forEach((row, i) => {
          if (!insertedAt[i]) {
            const before = s.storedDigest.get(row.id) as Buffer | null;
            // A store from before digests cannot tell: a repeat, as it was then.
            if (before && !before.equals(Buffer.from(digests[i]!, 'hex'))) {
              conflicts.push(i);
              s.insertConflict.run(row.id, row.name, row.receivedAt, row.body);
            }
            return;
          }
          stored++;
          // Its deliveries are pending from now, without rows until their first attempts.
          if (row.routes) added.set(row.routes, (added.get(row.routes) ?? 0) + 1);
        });
        return { stored, duplicates: rows.length - stored - conflicts.length, conflicts };
      }
      case 'update':
        for (const u of w.updates) {
          const updated = s.update.run(
            u.state,
            u.attempted ? 1 : 0,
            u.nextAt ?? null,
            now,
            u.status ?? null,
            u.detail ?? null,
            u.request ?? null,
            u.id,
          );
          /** The row is this result's alone: the first attempt of an event with no other destination. */
          let onlyRow = false;
          if (!updated.changes && u.id < 0) {
            const seq = seqOfFirstAttempt(u.id);
            const routes = s.routesOfEvent.get(seq) as string | null | undefined;
            const destination = routes && destinationOfFirstAttempt(u.id, routes);
            if (!destination) continue; // the event was erased meanwhile
            const request = u.request ?? null;
            s.firstAttempt.run(
              u.id,
              destination,
              u.state,
              u.attempted ? 1 : 0,
              now,
              u.nextAt ?? null,
              now,
              u.status ?? null,
              u.detail ?? null,
              request,
              seq,
            );
            onlyRow = routes.length === destination.length + 2 && !request?.includes('\n');
          }
          // The event's other recorded requests keep their first line only; a row that is the event's only
          // one, recorded without a body, has nothing to cut.
          if ((u.state === 'delivered' || u.state === 'skipped') && s.scrub.run(u.id).changes && !onlyRow)
            s.scrubRequests.run(u.id);
        }
        for (const [destination, seq] of w.cursors ?? [])
          cursors.set(destination, Math.max(seq, cursors.get(destination) ?? 0));
        return undefined;
      case 'retryNow':
        for (const id of w.ids) s.retryNow.run(w.now, id, w.now);
        return undefined;
      case 'requeue':
        return s.requeue.run(now, now, now, w.destination, JSON.stringify(w.states), w.since, w.limit).changes;
      case 'forget': {
        const key = w.person.email?.trim() ? emailKey(w.person.email) : null;
        const userId = w.person.userId ?? null;
        const anonymousIds = [
          ...(w.person.anonymousId ? [w.person.anonymousId] : []),
          ...(key || userId ? (s.visitorsOfPerson.all({ emailKey: key, userId }) as string[]) : []),
        ];
        const params = { anonymousIds: JSON.stringify(anonymousIds), userId, emailKey: key };
        const seqs = JSON.stringify(s.personEvents.all(params));
        const eventIds = JSON.stringify(s.eventIdsOf.all(seqs));
        const waiting = new Map<string, number>();
        for (const r of s.routesWithRows.all(seqs) as { routes: string; rows: string }[]) {
          const withRows = JSON.parse(r.rows) as string[];
          for (const d of destinationsOf(r.routes)) if (!withRows.includes(d)) waiting.set(d, (waiting.get(d) ?? 0) + 1);
        }
        for (const [destination, n] of waiting) s.uncount.run(n, destination);
        const deliveries = s.deleteDeliveriesOf.run(seqs).changes + [...waiting.values()].reduce((a, b) => a + b, 0);
        const events = keepingNewestSeq(() => s.deleteEvents.run(seqs).changes);
        const conflicts = s.deleteConflictsOf.run({ anonymousIds: params.anonymousIds, userId: params.userId, eventIds }).changes;
        s.deleteVisitors.run(params.anonymousIds);
        return { events, deliveries, conflicts };
      }
      case 'rememberVisitors':
        for (const u of w.updates) {
          const clickIds = Object.fromEntries(Object.entries(u.clickIds ?? {}).map(([k, v]) => [k, [v, u.at]]));
          s.rememberVisitor.run({ id: u.anonymousId, clickIds: JSON.stringify(clickIds), consent: u.consent ? JSON.stringify(u.consent) : null, at: u.at });
        }
        return undefined;
      case 'claimConversions':
        // Inserted: this delivery's; not: another's, or this one's own claim from before (a retry).
        return w.claims.map(
          (c) =>
            s.claimConversion.run(c.conversion, c.destination, c.deliveryId, now).changes === 1 ||
            s.conversionOwner.get(c.conversion, c.destination) === c.deliveryId,
        );
      case 'purge':
        s.purgeConflicts.run(w.deliveredBefore, w.limit);
        s.purgeVisitors.run(w.visitorsBefore, w.limit);
        s.purgeClaims.run(w.deliveredBefore, w.limit);
        return keepingNewestSeq(
          () =>
            s.purge.run({ deliveredBefore: w.deliveredBefore, deadBefore: w.deadBefore, unroutedBefore: w.unroutedBefore, limit: w.limit })
              .changes,
        );
    }
  };
  return { apply, inTransaction };
}

interface Queued {
  write: WriteOp;
  done: (error: unknown, result?: WriteResult) => void;
}

/**
 * Group commit: every write queued in the same turn of the event loop commits in one transaction
 * (one fsync for many requests); each caller hears back only after that commit.
 */
export class GroupCommitter {
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly writes: ReturnType<typeof sqliteWrites>;

  constructor(db: Database.Database) {
    this.writes = sqliteWrites(db);
  }

  enqueue(write: WriteOp, done: Queued['done']): void {
    this.queue.push({ write, done });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.commit());
    }
  }

  commit(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    if (!batch.length) return;
    const { apply, inTransaction } = this.writes;
    let results: WriteResult[];
    try {
      results = inTransaction(() => batch.map((q) => apply(q.write)));
    } catch {
      // One bad write must not fail the others: each on its own.
      for (const q of batch) {
        try {
          q.done(undefined, inTransaction(() => apply(q.write)));
        } catch (e) {
          q.done(e);
        }
      }
      return;
    }
    batch.forEach((q, i) => q.done(undefined, results[i]));
  }
}
