import { hash } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { emailKey } from '../emailKey.js';
import type { Consent, StoredEvent } from '../event.js';
import { redactUrl } from '../redact.js';
import { firstAttemptWaitsSql, seqOfFirstAttempt, waitingFirstAttempts, type EventRoutes } from './firstAttempts.js';
import { GroupWriter, withRetry } from './groupWriter.js';
import { migrate, POSTGRES_SCHEMA_VERSION } from './postgresSchema.js';
import { CONTEXT_KEY, storedBodyParts } from './storedBody.js';
import {
  StoreError,
  StoreReadOnly,
  type ClaimedDelivery,
  type CollectorRecord,
  type DeliveryRecord,
  type DeliveryUpdate,
  type DestinationStats,
  type EventQuery,
  type Fleet,
  type IdConflict,
  type IngestResult,
  type LaneRecord,
  type Forgotten,
  type NewEvent,
  type VisitorMemory,
  type VisitorUpdate,
  type ConversionClaim,
  type Person,
  type PurgeCutoffs,
  type ReplayableState,
  type SharedLane,
  type Store,
} from './types.js';

/** bigint columns (ids, times in ms) as numbers: every value the store keeps is far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * `sslmode` as libpq, psql and the PostgreSQL documentation read it, and as providers hand out URLs:
 * `require` encrypts without checking the server's certificate; `verify-ca` checks it against
 * `sslrootcert`; `verify-full` also checks the host name (against the system's CAs without `sslrootcert`).
 * node-postgres 8 otherwise takes `require` for `verify-full` and prints a warning at each start, so a
 * provider's `?sslmode=require` to a server with a certificate of its own failed to connect. (`prefer`
 * falls back to no SSL in PostgresStore.open, as libpq's does.)
 * https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION
 */
export function withLibpqSslModes(url: string): string {
  if (!/[?&]sslmode=/.test(url) || /[?&]uselibpqcompat=/i.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}uselibpqcompat=true`;
}

/**
 * One request's events, ready for the ingest function (lists the group joins), or the visitor updates
 * it remembers (`rememberVisitors`): both go in the group's one statement and commit.
 */
interface IngestItem {
  ids: string[];
  names: string[];
  received: number[];
  /** The stored bodies' parts (storedBodyParts). */
  contents: string[];
  contexts: string[];
  digests: string[];
  dests: string[];
  visitors: VisitorUpdate[];
}

const noEvents = (visitors: VisitorUpdate[]): IngestItem => ({ ids: [], names: [], received: [], contents: [], contexts: [], digests: [], dests: [], visitors });

const NEWLINE = 0x0a;
const CONTEXT_KEY_BYTES = Buffer.from(CONTEXT_KEY);
const CLOSING_BRACE = 0x7d;

/**
 * A group's stored bodies, one a line, as UTF-8 written from their parts: never one string, nor a string per
 * body. A group's bodies joined into one string passed 128 KB at a few hundred events, where V8 gives each
 * string pages of its own, and made and dropped one every group: 0.5 ms a group here, a tenth of the
 * collector's CPU (BENCHMARKS.md); and a body put together as a string is copied again to be written.
 */
function bodyLines(items: readonly IngestItem[]): Buffer {
  let size = -1;
  let context = '';
  let contextSize = 0;
  for (const { contents, contexts } of items) {
    for (let i = 0; i < contents.length; i++) {
      if (contexts[i] !== context) contextSize = Buffer.byteLength((context = contexts[i]!));
      size += Buffer.byteLength(contents[i]!) + CONTEXT_KEY_BYTES.length + contextSize + 2;
    }
  }
  const out = Buffer.allocUnsafe(Math.max(size, 0));
  let at = 0;
  for (const { contents, contexts } of items) {
    for (let i = 0; i < contents.length; i++) {
      if (at) out[at++] = NEWLINE;
      at += out.write(contents[i]!, at);
      at += CONTEXT_KEY_BYTES.copy(out, at);
      at += out.write(contexts[i]!, at);
      out[at++] = CLOSING_BRACE;
    }
  }
  return out;
}

/**
 * A group's visitor updates as the ingest function takes them (JSON, or null for none): one row per
 * visitor, in anonymous-id order so that concurrent groups lock rows in the same order; later values
 * win, click id by click id (each with its capture time); consent as a whole.
 */
function visitorRows(updates: VisitorUpdate[]): string | null {
  if (!updates.length) return null;
  const byId = new Map<string, { id: string; click_ids: Record<string, [string, number]>; consent: Consent | null; at: number }>();
  const sorted = [...updates].sort((a, b) => (a.anonymousId < b.anonymousId ? -1 : a.anonymousId > b.anonymousId ? 1 : a.at - b.at));
  for (const u of sorted) {
    const row = {
      id: u.anonymousId,
      click_ids: Object.fromEntries(Object.entries(u.clickIds ?? {}).map(([k, v]) => [k, [v, u.at] as [string, number]])),
      consent: u.consent ?? null,
      at: u.at,
    };
    const seen = byId.get(row.id);
    byId.set(row.id, seen ? { ...row, click_ids: { ...seen.click_ids, ...row.click_ids }, consent: row.consent ?? seen.consent } : row);
  }
  return JSON.stringify([...byId.values()]);
}

const NEWLINE_OR_COMMA = /[\n,]/;

/**
 * PostgreSQL, for a fleet of collectors sharing one queue. Events and deliveries are written in
 * groups (one statement and one commit for many requests, several groups in flight); a claim leases
 * deliveries in the database (`FOR UPDATE SKIP LOCKED`, the lease is `next_at` moved to its end), so
 * two collectors never hold the same delivery, and a collector that dies loses its leases when they
 * run out. Results carry the lease: a collector whose lease was taken over cannot overwrite the new
 * holder's result.
 */
export class PostgresStore implements Store {
  readonly fleet: Fleet;
  // Claims of a quarter of the window rather than an eighth: draining to a vendor at 100 ms (concurrency 64),
  // 0.21 commits a delivery instead of 0.32, a third less CPU per delivery for PostgreSQL and the collector, as
  // many deliveries a second (BENCHMARKS.md). Half the window waits too long: 40 % fewer deliveries.
  readonly claimShare = 1 / 4;
  /**
   * Lease token of each delivery this process claimed and has not reported on, and when the lease ends.
   * Kept when a report fails, so that the report sent again still carries it.
   */
  private readonly leases = new Map<number, { lease: number; until: number }>();
  private readonly ingestWriter: GroupWriter<IngestItem, IngestResult>;
  private readonly updateWriter: GroupWriter<DeliveryUpdate[], undefined>;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly where: string,
    owner: string,
    groupsInFlight: number,
  ) {
    this.fleet = new PgFleet(pool, owner);
    this.ingestWriter = new GroupWriter(groupsInFlight, (items) => this.writeIngest(items));
    this.updateWriter = new GroupWriter(2, async (items): Promise<undefined[]> => {
      await this.writeUpdates(items.flat());
      return items.map(() => undefined);
    });
  }

  /**
   * Brings the schema up to date under an advisory lock (on a connection of its own, with no time limit:
   * it may wait for another collector's migration), then returns the store on a pool of `poolSize`,
   * writing up to `groupsInFlight` ingest groups at once (3). `queryTimeoutMs`: a statement without an
   * answer by then fails (a database cut off by the network answers nothing, and the connection is
   * dropped), so that no request waits for it longer; none by default. Any failure to open is a
   * StoreError naming the server (without its password).
   */
  static async open(
    url: string,
    opts: { poolSize?: number; owner?: string; groupsInFlight?: number; queryTimeoutMs?: number } = {},
  ): Promise<PostgresStore> {
    const where = redactUrl(url);
    const common = { types, connectionTimeoutMillis: 10_000, application_name: 'tagrelay' };
    const connect = async (connectionString: string) => {
      // The URL is read here: verify-ca without sslrootcert, say, is refused before connecting.
      const c = new pg.Client({ ...common, connectionString } as pg.ClientConfig);
      c.on('error', () => {});
      await c.connect();
      return { client: c, connectionString };
    };
    let first: { client: pg.Client; connectionString: string };
    try {
      first = await connect(withLibpqSslModes(url)).catch((e: unknown) => {
        // sslmode=prefer, libpq's default: SSL when the server offers it, else without.
        const plain = url.replace(/([?&]sslmode=)prefer(?=&|$)/, '$1disable');
        if (plain !== url && /does not support SSL/.test((e as Error).message)) return connect(withLibpqSslModes(plain));
        throw e;
      });
    } catch (e) {
      throw new StoreError(`cannot connect to the PostgreSQL store ${where}: ${(e as Error).message}`);
    }
    const { client } = first;
    const settings = { ...common, connectionString: first.connectionString };
    try {
      await migrate(client, where);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throw new StoreError(`cannot prepare the PostgreSQL store ${where}: ${(e as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
    const pool = new pg.Pool({
      ...settings,
      max: opts.poolSize ?? 10,
      query_timeout: opts.queryTimeoutMs,
      // /collect acknowledges an event once its commit returns, and the tag then forgets it: the commit must
      // be on disk, whatever the database's default (synchronous_commit = off loses the last commits when
      // PostgreSQL crashes). Run on each new connection before the pool hands it out.
      // tagrelay.writer_schema: this code knows deliveries without rows, and may delete events (see
      // refuse_older_deletes in the schema).
      onConnect: (c: pg.ClientBase) => c.query(`SET synchronous_commit = on; SET tagrelay.writer_schema = ${POSTGRES_SCHEMA_VERSION}`),
    } as pg.PoolConfig);
    // An idle connection that breaks (server restart) is dropped from the pool; the next query opens another.
    pool.on('error', () => {});
    return new PostgresStore(pool, where, opts.owner ?? `${hostname()}:${process.pid}`, opts.groupsInFlight ?? 3);
  }

  async ingest(events: NewEvent[]): Promise<IngestResult> {
    if (!events.length) return { stored: 0, duplicates: 0, conflicts: [] };
    for (const e of events) {
      if (NEWLINE_OR_COMMA.test(e.event.id) || NEWLINE_OR_COMMA.test(e.event.name)) {
        throw new Error(`event id or name with a newline or comma: ${JSON.stringify(e.event.id)}`);
      }
    }
    const { contents, contexts } = storedBodyParts(events);
    return this.ingestWriter.add({
      ids: events.map((e) => e.event.id),
      names: events.map((e) => e.event.name),
      received: events.map((e) => e.context.receivedAt),
      contents,
      contexts,
      digests: contents.map((content) => hash('sha1', content, 'hex')),
      dests: events.map((e) => e.destinations.join(',')),
      visitors: [],
    });
  }

  private async writeIngest(items: IngestItem[]): Promise<IngestResult[]> {
    const join = (key: 'ids' | 'names' | 'received' | 'digests' | 'dests', sep: string) => items.flatMap((i): (string | number)[] => i[key]).join(sep);
    const { rows } = await this.pool.query<{ duplicates: number[]; conflicts: number[] }>({
      name: 'tagrelay_ingest',
      text: 'SELECT duplicates, conflicts FROM tagrelay.ingest_events($1, $2, $3, $4, $5, $6, $7, $8)',
      values: [
        join('ids', '\n'),
        join('names', '\n'),
        join('received', ','),
        // Bytes go to PostgreSQL as they are (a parameter in binary form: for text, its UTF-8).
        bodyLines(items),
        join('digests', ','),
        join('dests', '\n'),
        Date.now(),
        visitorRows(items.flatMap((i) => i.visitors)),
      ],
    });
    const { duplicates, conflicts } = rows[0]!;
    // Ordinals are over the whole group: give each request its own, from 0.
    let offset = 0;
    return items.map((item) => {
      const n = item.ids.length;
      const mine = (xs: number[]) => xs.filter((x) => x >= offset && x < offset + n).map((x) => x - offset);
      const dup = mine(duplicates).length;
      const con = mine(conflicts);
      offset += n;
      return { stored: n - dup - con.length, duplicates: dup, conflicts: con };
    });
  }

  async claim(destination: string, limit: number, now: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await withRetry(() =>
      this.pool.query<{ id: number; attempts: number; created_at: number; lease: number; body: string | null }>({
        name: 'tagrelay_claim',
        text: 'SELECT id, attempts, created_at, lease, body FROM tagrelay.claim($1, $2, $3, $4, $5)',
        values: [destination, now, limit, leaseMs, this.fleet.id],
      }),
    );
    rows.sort((a, b) => a.id - b.id);
    // Tokens of claims never reported on (given up in an outage) go an hour after their lease ended.
    for (const [id, l] of this.leases) if (l.until + 3_600_000 < now) this.leases.delete(id);
    const claimed: ClaimedDelivery[] = [];
    const orphans: number[] = [];
    for (const r of rows) {
      if (r.body === null) {
        // Its event was erased (or deleted by hand) after the row was made: nothing to send, nothing to keep.
        orphans.push(r.id);
        continue;
      }
      this.leases.set(r.id, { lease: r.lease, until: now + leaseMs });
      claimed.push({ id: r.id, destination, attempts: r.attempts, createdAt: r.created_at, event: JSON.parse(r.body) as StoredEvent });
    }
    if (orphans.length) {
      // Left for the next claim that meets them if this fails: the deliveries claimed are sent meanwhile.
      await withRetry(() =>
        this.pool.query(
          `DELETE FROM tagrelay.deliveries d WHERE d.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM tagrelay.events e WHERE e.seq = d.event_seq)`,
          [orphans],
        ),
      ).catch(() => {});
    }
    return claimed;
  }

  async update(updates: DeliveryUpdate[]): Promise<void> {
    if (!updates.length) return;
    await this.updateWriter.add(updates);
    for (const u of updates) this.leases.delete(u.id);
  }

  private async writeUpdates(updates: DeliveryUpdate[]): Promise<void> {
    await this.pool.query({
      name: 'tagrelay_record_results',
      text: 'SELECT tagrelay.record_results($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      values: [
        updates.map((u) => u.id),
        updates.map((u) => this.leases.get(u.id)?.lease ?? null),
        updates.map((u) => u.state),
        updates.map((u) => (u.attempted ? 1 : 0)),
        updates.map((u) => u.nextAt ?? null),
        updates.map((u) => u.status ?? null),
        updates.map((u) => u.detail ?? null),
        updates.map((u) => u.request ?? null),
        Date.now(),
      ],
    });
  }

  async retryNow(ids: number[], now: number): Promise<void> {
    if (!ids.length) return;
    await withRetry(() =>
      this.pool.query(
        `UPDATE tagrelay.deliveries SET next_at = $2
          WHERE id = ANY($1::bigint[]) AND state = 'pending' AND next_at > $2 AND lease IS NULL`,
        [ids, now],
      ),
    );
  }

  private async counts(): Promise<{ destination: string; state: string; n: number }[]> {
    const { rows } = await this.pool.query<{ destination: string; state: string; n: number }>({
      name: 'tagrelay_counts',
      text: `SELECT destination, state, sum(n)::bigint AS n FROM tagrelay.delivery_counts GROUP BY 1, 2 ORDER BY 1, 2`,
    });
    return rows;
  }

  async stats(): Promise<DestinationStats[]> {
    const by = new Map<string, DestinationStats>();
    for (const r of await this.counts()) {
      const s = by.get(r.destination) ?? { destination: r.destination, pending: 0, delivered: 0, skipped: 0, rejected: 0, dead: 0 };
      (s as unknown as Record<string, number>)[r.state] = r.n;
      by.set(r.destination, s);
    }
    for (const s of by.values()) {
      if (s.pending > 0) {
        const { rows } = await this.pool.query<{ oldest: number | null }>(
          `SELECT least((SELECT min(created_at) FROM tagrelay.deliveries WHERE destination = $1 AND state = 'pending'),
                        (SELECT min(created_at) FROM tagrelay.first_attempts WHERE destination = $1 AND cardinality(seqs) > 0)) AS oldest`,
          [s.destination],
        );
        if (rows[0]?.oldest != null) s.oldestPendingAt = rows[0].oldest;
      }
    }
    return [...by.values()];
  }

  async queueDepth(): Promise<Map<string, number>> {
    return new Map((await this.counts()).filter((r) => r.state === 'pending').map((r) => [r.destination, r.n]));
  }

  async recentDeliveries(limit: number): Promise<DeliveryRecord[]> {
    const { rows } = await this.pool.query<DeliveryRecord & { status: number | null; detail: string | null; request: string | null }>(
      `SELECT d.id, e.id AS "eventId", e.name AS "eventName", d.destination, d.state, d.attempts,
              d.created_at AS "createdAt", d.updated_at AS "updatedAt", d.status, d.detail, d.request
         FROM tagrelay.deliveries d JOIN tagrelay.events e ON e.seq = d.event_seq ORDER BY d.id DESC LIMIT $1`,
      [limit],
    );
    const waiting = await this.waitingFirstAttempts(
      `SELECT * FROM (SELECT seq, id, name, received_at, routes FROM tagrelay.events ORDER BY seq DESC LIMIT 10000) e
        WHERE ${firstAttemptWaitsSql('e', 'tagrelay.deliveries')} ORDER BY seq DESC LIMIT $1`,
      [limit],
    );
    return [...rows.map((r) => ({ ...r, status: r.status ?? undefined, detail: r.detail ?? undefined, request: r.request ?? undefined })), ...waiting]
      .sort((a, b) => b.createdAt - a.createdAt || a.destination.localeCompare(b.destination))
      .slice(0, limit);
  }

  /**
   * The deliveries without a row yet (pending, not attempted) of the events `eventsSql` selects (columns seq, id,
   * name, received_at, routes), with the ids the SQLite store gives them.
   */
  private async waitingFirstAttempts(eventsSql: string, values: unknown[]): Promise<(DeliveryRecord & { nextAt: number })[]> {
    const { rows } = await this.pool.query<EventRoutes>(
      `SELECT e.seq, e.id AS "eventId", e.name AS "eventName", e.received_at AS "receivedAt", e.routes,
              ARRAY(SELECT d.destination FROM tagrelay.deliveries d WHERE d.event_seq = e.seq) AS "withRows"
         FROM (${eventsSql}) e`,
      values,
    );
    return waitingFirstAttempts(rows);
  }

  async recentEvents(limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM tagrelay.events ORDER BY seq DESC LIMIT $1', [limit]);
    return rows.map((r) => JSON.parse(r.body) as StoredEvent);
  }

  async forget(person: Person): Promise<Forgotten> {
    // Its locks (events, then their deliveries) can meet another writer's: a deadlock runs it again.
    return withRetry(() => this.forgetOnce(person));
  }

  private async forgetOnce(person: Person): Promise<Forgotten> {
    const key = person.email?.trim() ? emailKey(person.email) : null;
    const hasEmail = (j: string) => `(${j} #>> '{context,emailKey}') = $3`;
    return this.inTransaction(async (client) => {
      // First the person's events (in seq order, as purge and record_results lock them) and the first_attempts rows
      // that name them are locked: that waits for a claim making rows of them meanwhile, so that the second
      // statement, which sees what committed since, deletes those too. (Only locked: a change there would hold the
      // pending count's row through the second statement, which a claim of one of the rows it deletes may be
      // waiting for.)
      const { rows: found } = await client.query<{ seqs: number[]; ids: string[]; visitors: string[] }>(
        `WITH visitors AS (
           SELECT $1::text AS id WHERE $1::text IS NOT NULL
           UNION SELECT body::jsonb ->> 'anonymousId' FROM tagrelay.events
            WHERE body::jsonb ->> 'anonymousId' IS NOT NULL
              AND (($3::text IS NOT NULL AND ${hasEmail('body::jsonb')})
                OR ($2::text IS NOT NULL AND body::jsonb #>> '{properties,user_id}' = $2))
         ), gone AS (
           SELECT seq, id, routes FROM tagrelay.events e
            WHERE body::jsonb ->> 'anonymousId' IN (SELECT id FROM visitors)
               OR ($2::text IS NOT NULL AND body::jsonb #>> '{properties,user_id}' = $2)
               OR ($3::text IS NOT NULL AND ${hasEmail('e.body::jsonb')})
            ORDER BY seq FOR UPDATE
         ), waiting AS (
           SELECT f.id FROM tagrelay.first_attempts f
            WHERE f.seqs && ARRAY(SELECT seq FROM gone WHERE routes IS NOT NULL)
              FOR UPDATE OF f
         )
         SELECT coalesce((SELECT array_agg(seq) FROM gone), '{}') AS seqs, coalesce((SELECT array_agg(id) FROM gone), '{}') AS ids,
                coalesce((SELECT array_agg(id) FROM visitors), '{}') AS visitors, (SELECT count(*) FROM waiting) AS locked`,
        [person.anonymousId ?? null, person.userId ?? null, key],
      );
      const { seqs, ids, visitors } = found[0]!;
      const { rows } = await client.query<{ events: string; deliveries: string; conflicts: string }>(
        `WITH gone AS (
           SELECT seq, routes FROM tagrelay.events WHERE seq = ANY($1::bigint[])
         ), counted AS (
           -- Each delivery once, with a row or still without one.
           SELECT coalesce(sum(greatest(tagrelay.route_count(g.routes), (SELECT count(*) FROM tagrelay.deliveries d WHERE d.event_seq = g.seq))), 0) AS n
             FROM gone g
         ), df AS (
           UPDATE tagrelay.first_attempts f SET seqs = ARRAY(SELECT s FROM unnest(f.seqs) s WHERE s <> ALL($1::bigint[]))
            WHERE f.seqs && $1::bigint[]
         ), dd AS (
           DELETE FROM tagrelay.deliveries d WHERE d.event_seq = ANY($1::bigint[]) RETURNING 1
         ), de AS (
           DELETE FROM tagrelay.events e WHERE e.seq = ANY($1::bigint[]) RETURNING 1
         ), dc AS (
           DELETE FROM tagrelay.id_conflicts c
            WHERE c.event_id = ANY($2::text[])
               OR c.body::jsonb ->> 'anonymousId' = ANY($3::text[])
               OR ($4::text IS NOT NULL AND c.body::jsonb #>> '{properties,user_id}' = $4)
            RETURNING 1
         ), dv AS (
           DELETE FROM tagrelay.visitors v WHERE v.anonymous_id = ANY($3::text[]) RETURNING 1
         )
         SELECT (SELECT count(*) FROM de) AS events, (SELECT n FROM counted) AS deliveries, (SELECT count(*) FROM dc) AS conflicts,
                (SELECT count(*) FROM dv) AS visitors`,
        [seqs, ids, visitors, person.userId ?? null],
      );
      const r = rows[0]!;
      return { events: Number(r.events), deliveries: Number(r.deliveries), conflicts: Number(r.conflicts) };
    });
  }

  /**
   * Written in the ingest group of the same turn (a /collect request's events and its visitors: one
   * statement, one commit). A statement of its own per request was a commit per request, and requests
   * of one visitor waited for each other's commit on its row; a group of its own was a second commit
   * for every request to wait for.
   */
  async rememberVisitors(updates: VisitorUpdate[]): Promise<void> {
    if (!updates.length) return;
    await this.ingestWriter.add(noEvents(updates));
  }

  async visitors(anonymousIds: string[], since: number): Promise<Map<string, VisitorMemory>> {
    if (!anonymousIds.length) return new Map();
    // Prepared (once per connection): read for every /collect request, its planning was a quarter of its CPU.
    const { rows } = await this.pool.query<{ id: string; click_ids: VisitorMemory['clickIds']; consent: Consent | null; updated_at: string }>({
      name: 'tagrelay_visitors',
      text: `SELECT anonymous_id AS id, click_ids, consent, updated_at FROM tagrelay.visitors WHERE anonymous_id = ANY($1::text[]) AND updated_at >= $2`,
      values: [anonymousIds, since],
    });
    return new Map(rows.map((r) => [r.id, { clickIds: r.click_ids, consent: r.consent ?? undefined, updatedAt: Number(r.updated_at) }]));
  }

  async claimConversions(claims: ConversionClaim[]): Promise<boolean[]> {
    if (!claims.length) return [];
    // Insert what is not claimed yet, then read who held each before (ours or another collector's): one index
    // lookup per claim (the LIMIT keeps it one). A join there was planned as a scan of every conversion sent while
    // the table held some thousands (0.36 ms of PostgreSQL's CPU a delivery with 24,000 of them, 0.17 with 6,000).
    const { rows } = await withRetry(() =>
      this.pool.query<{ conversion: string; destination: string; delivery_id: number }>({
        name: 'tagrelay_claim_conversions',
        text: `WITH wanted AS (
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS w(conversion, destination, delivery_id)
               ), claimed AS (
                 INSERT INTO tagrelay.conversion_sends (conversion, destination, delivery_id, claimed_at)
                 SELECT DISTINCT ON (conversion, destination) conversion, destination, delivery_id, $4 FROM wanted
                  ORDER BY conversion, destination, delivery_id
                 ON CONFLICT (conversion, destination) DO NOTHING RETURNING conversion, destination, delivery_id
               )
               SELECT conversion, destination, delivery_id FROM claimed
               UNION ALL
               SELECT w.conversion, w.destination, held.delivery_id FROM wanted w
                CROSS JOIN LATERAL (SELECT s.delivery_id FROM tagrelay.conversion_sends s
                                     WHERE s.conversion = w.conversion AND s.destination = w.destination LIMIT 1) held`,
        values: [claims.map((c) => c.conversion), claims.map((c) => c.destination), claims.map((c) => c.deliveryId), Date.now()],
      }),
    );
    const holder = new Map(rows.map((r) => [`${r.conversion}\n${r.destination}`, r.delivery_id]));
    return claims.map((c) => holder.get(`${c.conversion}\n${c.destination}`) === c.deliveryId);
  }

  async recentConflicts(limit: number): Promise<IdConflict[]> {
    const { rows } = await this.pool.query<IdConflict>(
      `SELECT event_id AS "eventId", name, received_at AS "receivedAt", body FROM tagrelay.id_conflicts ORDER BY seq DESC LIMIT $1`,
      [limit],
    );
    return rows;
  }

  async findEvents(q: EventQuery): Promise<StoredEvent[]> {
    // An id by its index, however old; the other filters within the newest `window` events.
    const from =
      q.id !== undefined
        ? 'SELECT seq, name, received_at, body FROM tagrelay.events WHERE id = $6'
        : 'SELECT seq, name, received_at, body FROM tagrelay.events ORDER BY seq DESC LIMIT $6';
    const { rows } = await this.pool.query<{ body: string }>(
      `SELECT body FROM (${from}) e
        WHERE ($1::text IS NULL OR name = $1)
          AND ($2::bigint IS NULL OR received_at >= $2)
          AND ($3::bigint IS NULL OR received_at <= $3)
          AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM jsonb_each_text(body::jsonb -> 'clickIds') c WHERE c.value = $4))
        ORDER BY seq DESC LIMIT $5`,
      [q.name ?? null, q.since ?? null, q.until ?? null, q.clickId ?? null, q.limit, q.id ?? q.window ?? 10_000],
    );
    return rows.map((r) => JSON.parse(r.body) as StoredEvent);
  }

  async eventDeliveries(eventIds: readonly string[]): Promise<DeliveryRecord[]> {
    if (!eventIds.length) return [];
    const { rows } = await this.pool.query<
      DeliveryRecord & { seq: number; status: number | null; detail: string | null; request: string | null; nextAt: number; leased: boolean }
    >(
      `SELECT e.seq, d.id, e.id AS "eventId", e.name AS "eventName", d.destination, d.state, d.attempts,
              d.created_at AS "createdAt", d.updated_at AS "updatedAt", d.next_at AS "nextAt",
              (d.lease IS NOT NULL AND d.next_at > $2) AS leased, d.status, d.detail, d.request
         FROM tagrelay.events e JOIN tagrelay.deliveries d ON d.event_seq = e.seq
        WHERE e.id = ANY($1::text[])
        ORDER BY d.id`,
      [eventIds, Date.now()],
    );
    const waiting = await this.waitingFirstAttempts(
      `SELECT seq, id, name, received_at, routes FROM tagrelay.events e WHERE id = ANY($1::text[]) AND ${firstAttemptWaitsSql('e', 'tagrelay.deliveries')}`,
      [eventIds],
    );
    // Oldest event first; its deliveries with rows (in the order they were made) before the ones without.
    const all = [
      ...rows,
      ...waiting.map((w) => ({ ...w, seq: seqOfFirstAttempt(w.id), leased: false, status: null, detail: null, request: null })),
    ].sort((a, b) => a.seq - b.seq || (a.id < 0 ? 1 : 0) - (b.id < 0 ? 1 : 0) || Math.abs(a.id) - Math.abs(b.id));
    return all.map(({ leased, seq: _seq, ...r }) => {
      const pending = r.state === 'pending';
      return {
        ...r,
        status: r.status ?? undefined,
        detail: r.detail ?? undefined,
        request: r.request ?? undefined,
        // While leased, next_at is when the lease runs out, not a next attempt.
        nextAt: pending && !leased ? r.nextAt : undefined,
        inFlight: pending ? leased : undefined,
      };
    });
  }

  async requeue(
    destination: string,
    states: readonly ReplayableState[],
    since: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::bigint AS n FROM tagrelay.deliveries WHERE destination = $1 AND state = ANY($2::text[]) AND updated_at >= $3`,
      [destination, states, since],
    );
    const total = rows[0]!.n;
    let done = 0;
    onProgress?.(0, total);
    while (done < total) {
      const now = Date.now();
      // In batches of 1,000, each its own short transaction: no long lock while a fleet delivers.
      const r = await withRetry(() =>
        this.pool.query(
          `WITH sel AS (
             SELECT id FROM tagrelay.deliveries
              WHERE destination = $1 AND state = ANY($2::text[]) AND updated_at >= $3
              ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)
           UPDATE tagrelay.deliveries d SET state = 'pending', attempts = 0, next_at = $4, created_at = $4, updated_at = $4,
                  lease = NULL, leased_by = NULL
             FROM sel WHERE d.id = sel.id`,
          [destination, states, since, now],
        ),
      );
      if (!r.rowCount) break;
      done += r.rowCount;
      onProgress?.(done, total);
    }
    return done;
  }

  async purge({ deliveredBefore, deadBefore, unroutedBefore, visitorsBefore }: PurgeCutoffs): Promise<number> {
    // Small batches, each its own short transaction, walking events in arrival order from the oldest:
    // no long lock, and ingest never waits for a purge. Stops at the first batch with nothing old.
    let purged = 0;
    let after = 0;
    for (;;) {
      const started = Date.now();
      const r = await withRetry(() => this.purgeBatch(after, deliveredBefore, deadBefore, unroutedBefore));
      purged += r.n;
      if (r.last === null || r.old === 0) break;
      after = r.last;
      // Half the time at most: the server's other work (ingest) goes between the batches.
      await new Promise((resolve) => setTimeout(resolve, Date.now() - started));
    }
    for (;;) {
      const r = await this.pool.query(
        `DELETE FROM tagrelay.id_conflicts WHERE seq IN (SELECT seq FROM tagrelay.id_conflicts WHERE received_at < $1 LIMIT 1000)`,
        [deliveredBefore],
      );
      if ((r.rowCount ?? 0) < 1000) break;
    }
    for (const [table, key, column, before] of [
      ['visitors', 'anonymous_id', 'updated_at', visitorsBefore],
      ['conversion_sends', 'conversion, destination', 'claimed_at', deliveredBefore],
    ] as const) {
      for (;;) {
        const r = await this.pool.query(
          `DELETE FROM tagrelay.${table} WHERE (${key}) IN (SELECT ${key} FROM tagrelay.${table} WHERE ${column} < $1 LIMIT 1000)`,
          [before],
        );
        if ((r.rowCount ?? 0) < 1000) break;
      }
    }
    return purged;
  }

  /**
   * One batch of purge: the next 1,000 events from `after`, in one short transaction of two statements. The
   * first locks the events that look old enough and their deliveries, so that a replay of one of them waits,
   * or, if it came first, is waited for; the second decides again, seeing what such a replay committed
   * meanwhile (a dead letter just put back in the queue keeps its event), and deletes. One statement alone
   * decided on its snapshot and deleted a delivery a replay had just made pending, with its event.
   */
  private async purgeBatch(
    after: number,
    deliveredBefore: number,
    deadBefore: number,
    unroutedBefore: number,
  ): Promise<{ last: number | null; old: number; n: number }> {
    // What retention deletes: an event no destination took, past unroutedBefore ($4), or one whose deliveries
    // all have rows and are done, past deliveredBefore ($1), keeping dead letters younger than deadBefore ($2).
    const purgeable = (e: string) =>
      `((${e}.received_at < $4 AND ${e}.routes IS NULL AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries d WHERE d.event_seq = ${e}.seq))
        OR (${e}.received_at < $1 AND NOT ${firstAttemptWaitsSql(e, 'tagrelay.deliveries')}
            AND NOT EXISTS (SELECT 1 FROM tagrelay.deliveries d WHERE d.event_seq = ${e}.seq
                              AND (d.state = 'pending' OR (d.state IN ('dead', 'rejected') AND d.updated_at >= $2)))))`;
    return this.inTransaction(async (client) => {
      const { rows } = await client.query<{ last: number | null; old: number; seqs: string[] }>({
        name: 'tagrelay_purge_lock',
        // The events first, then their deliveries: the order forget takes its locks in. `locked` is counted
        // so that it runs.
        text: `WITH cand AS (
                 SELECT seq, received_at, routes FROM tagrelay.events WHERE seq > $3 ORDER BY seq LIMIT 1000
               ), events AS (
                 SELECT e.seq FROM tagrelay.events e
                  WHERE e.seq IN (SELECT c.seq FROM cand c WHERE ${purgeable('c')}) ORDER BY e.seq FOR UPDATE OF e
               ), locked AS (
                 SELECT d.id FROM tagrelay.deliveries d WHERE d.event_seq IN (SELECT seq FROM events) ORDER BY d.id FOR UPDATE OF d
               )
               SELECT (SELECT max(seq) FROM cand) AS last,
                      (SELECT count(*) FROM cand WHERE received_at < GREATEST($1, $4))::bigint AS old,
                      coalesce((SELECT array_agg(seq) FROM events), '{}') AS seqs,
                      (SELECT count(*) FROM locked)::bigint AS locked`,
        values: [deliveredBefore, deadBefore, after, unroutedBefore],
      });
      const { last, old, seqs } = rows[0]!;
      let n = 0;
      if (seqs.length) {
        const r = await client.query<{ n: number }>({
          name: 'tagrelay_purge_delete',
          text: `WITH gone AS (
                   SELECT e.seq FROM tagrelay.events e WHERE e.seq = ANY($3::bigint[]) AND ${purgeable('e')}
                 ), dd AS (
                   DELETE FROM tagrelay.deliveries d USING gone WHERE d.event_seq = gone.seq
                 ), de AS (
                   DELETE FROM tagrelay.events e USING gone WHERE e.seq = gone.seq RETURNING 1
                 )
                 SELECT (SELECT count(*) FROM de)::bigint AS n`,
          values: [deliveredBefore, deadBefore, seqs, unroutedBefore],
        });
        n = r.rows[0]!.n;
      }
      return { last, old, n };
    });
  }

  /** `work` in one transaction, on a connection of its own. */
  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      // A connection that cannot even roll back is dropped, not handed out again.
      broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async check(): Promise<void> {
    // Reading works on a standby too: a failover's old primary, or a URL naming a replica, answers every
    // write with an error while SELECT 1 succeeds.
    const { rows } = await this.pool.query<{ read_only: string; standby: boolean }>(
      `SELECT current_setting('transaction_read_only') AS read_only, pg_is_in_recovery() AS standby`,
    );
    const r = rows[0]!;
    if (r.standby) throw new StoreReadOnly(`the PostgreSQL store ${this.where} is a standby (read-only)`);
    if (r.read_only === 'on') throw new StoreReadOnly(`the PostgreSQL store ${this.where} is read-only (default_transaction_read_only)`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fleet.leave().catch(() => {});
    // Writes still queued or in flight finish first.
    while (!this.ingestWriter.idle || !this.updateWriter.idle) await new Promise((r) => setTimeout(r, 5));
    await this.pool.end();
  }
}

const LANE_COLUMNS = `epoch, state, failures, blocked_until AS "blockedUntil", reason, updated_by AS "updatedBy"`;

function laneRecord(r: LaneRecord & { reason: string | null; updatedBy: string | null }): LaneRecord {
  return { ...r, reason: r.reason ?? undefined, updatedBy: r.updatedBy ?? undefined };
}

class PgSharedLane implements SharedLane {
  private created = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly destination: string,
    private readonly owner: string,
  ) {}

  async read(): Promise<LaneRecord> {
    if (!this.created) {
      await this.pool.query('INSERT INTO tagrelay.lanes (destination) VALUES ($1) ON CONFLICT DO NOTHING', [this.destination]);
      this.created = true;
    }
    const { rows } = await this.pool.query({
      name: 'tagrelay_lane_read',
      text: `SELECT ${LANE_COLUMNS} FROM tagrelay.lanes WHERE destination = $1`,
      values: [this.destination],
    });
    return laneRecord(rows[0]);
  }

  async move(from: number, next: LaneRecord): Promise<LaneRecord> {
    const { rows } = await this.pool.query(
      `UPDATE tagrelay.lanes SET epoch = $3, state = $4, failures = $5, blocked_until = $6, reason = $7,
              probe_until = 0, probe_by = NULL, updated_at = $8, updated_by = $9
        WHERE destination = $1 AND epoch = $2 RETURNING ${LANE_COLUMNS}`,
      [this.destination, from, next.epoch, next.state, next.failures, next.blockedUntil, next.reason ?? null, Date.now(), this.owner],
    );
    return rows[0] ? laneRecord(rows[0]) : this.read();
  }

  async takeProbe(epoch: number, now: number, until: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE tagrelay.lanes SET probe_until = $4, probe_by = $5
        WHERE destination = $1 AND epoch = $2 AND (probe_until <= $3 OR probe_by = $5)`,
      [this.destination, epoch, now, until, this.owner],
    );
    return r.rowCount === 1;
  }

  async releaseProbe(epoch: number): Promise<void> {
    await this.pool.query(
      `UPDATE tagrelay.lanes SET probe_until = 0, probe_by = NULL WHERE destination = $1 AND epoch = $2 AND probe_by = $3`,
      [this.destination, epoch, this.owner],
    );
  }
}

class PgFleet implements Fleet {
  private heartbeat?: NodeJS.Timeout;
  private joined = false;

  constructor(
    private readonly pool: pg.Pool,
    readonly id: string,
  ) {}

  lane(destination: string): SharedLane {
    return new PgSharedLane(this.pool, destination, this.id);
  }

  async join(version: string): Promise<void> {
    const started = Date.now();
    const [host, pid] = [hostname(), process.pid];
    // Each beat writes the whole row: a collector that could not join at start (its database taking no
    // writes for a while, say) appears once it can.
    const beat = () =>
      this.pool.query(
        `INSERT INTO tagrelay.collectors (id, host, pid, version, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET host = $2, pid = $3, version = $4, started_at = $5, seen_at = $6`,
        [this.id, host, pid, version, started, Date.now()],
      );
    this.joined = true;
    this.heartbeat = setInterval(() => void beat().catch(() => {}), 5000);
    this.heartbeat.unref();
    await beat();
  }

  async leave(): Promise<void> {
    clearInterval(this.heartbeat);
    if (!this.joined) return;
    this.joined = false;
    await this.pool.query('DELETE FROM tagrelay.collectors WHERE id = $1', [this.id]);
  }

  async status(withinMs: number) {
    const [collectors, lanes] = await Promise.all([
      this.pool.query<CollectorRecord>(
        `SELECT id, host, pid, version, started_at AS "startedAt", seen_at AS "seenAt" FROM tagrelay.collectors
          WHERE seen_at >= $1 ORDER BY started_at`,
        [Date.now() - withinMs],
      ),
      this.pool.query(`SELECT destination, ${LANE_COLUMNS} FROM tagrelay.lanes ORDER BY destination`),
    ]);
    return {
      collectors: collectors.rows,
      lanes: lanes.rows.map((r) => ({ destination: r.destination as string, ...laneRecord(r) })),
    };
  }
}
