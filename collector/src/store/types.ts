import type { Consent, RequestContext, StoredEvent, TrackedEvent } from '../event.js';

/** The store cannot be opened or used as configured: printed as the one start-up error. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** The store answers but takes no writes: a PostgreSQL standby (a failover's old primary), a database set read-only. */
export class StoreReadOnly extends StoreError {}

/** The state of one delivery (one event to one destination). */
export type DeliveryState =
  | 'pending' // waiting to be sent, or waiting for its next try
  | 'delivered' // the vendor accepted it (or dry run recorded it)
  | 'skipped' // not sent on purpose: consent, mapping
  | 'rejected' // cannot be sent: the vendor's rules or its 4xx answer
  | 'dead'; // retried until the retry age or count ran out

export interface NewEvent {
  /** The event as it arrived. */
  event: TrackedEvent;
  /**
   * `JSON.stringify(event)`, when the caller has it (the event's text as it arrived, unchanged since):
   * the store keeps that text without writing the event again.
   */
  json?: string;
  /** What the collector adds from the request (shared by the events of one request). */
  context: RequestContext;
  /** Destinations that take this event; one pending delivery is created for each. */
  destinations: string[];
}

export interface IngestResult {
  /** Events not seen before, now stored. */
  stored: number;
  /** Events whose id was stored before with the same content: a repeat, not stored again. */
  duplicates: number;
  /**
   * Positions (in the ingested list) of events whose id was stored before with other content (another
   * name, time or properties): not stored, recorded as a conflict.
   */
  conflicts: number[];
}

/** An event id that arrived again with other content. */
export interface IdConflict {
  eventId: string;
  /** The name of the event that arrived second (its personal data is not kept). */
  name: string;
  receivedAt: number;
  /** The second event's JSON without `properties.user_data`. */
  body: string;
}

/** What `purge` deletes (times in ms since 1970). */
export interface PurgeCutoffs {
  /** Events that arrived before this whose deliveries are all done (dead letters: see deadBefore); id conflicts too. */
  deliveredBefore: number;
  /** Dead letters (dead or rejected) last updated before this. */
  deadBefore: number;
  /** Events no destination took (no delivery at all) that arrived before this. */
  unroutedBefore: number;
  /** Visitors not seen since this (the attribution window), and conversion claims older than deliveredBefore. */
  visitorsBefore: number;
}

/** What a browser event tells of its visitor, remembered for events that arrive without it. */
export interface VisitorUpdate {
  anonymousId: string;
  /** Click id parameter → value, captured at `at`. */
  clickIds?: Record<string, string>;
  consent?: Consent;
  /** When the event was tracked (ms). */
  at: number;
}

/** What the collector remembers of a visitor. */
export interface VisitorMemory {
  /** Click id parameter → the latest value and when it was captured (ms). */
  clickIds: Record<string, [value: string, at: number]>;
  consent?: Consent;
  updatedAt: number;
}

/** A delivery asking to be the one that sends a conversion to its destination. */
export interface ConversionClaim {
  conversion: string;
  destination: string;
  deliveryId: number;
}

/** Whose data `forget` removes: any of these identifies the person. */
export interface Person {
  anonymousId?: string;
  userId?: string;
  /** Matched trimmed and lowercased. */
  email?: string;
}

/** What `forget` removed. */
export interface Forgotten {
  events: number;
  deliveries: number;
  conflicts: number;
}

/** States a delivery ends in that `tagrelay replay` can put back in the queue. */
export type ReplayableState = 'dead' | 'rejected';

/** A delivery handed to a worker, with its event; leased until the worker reports back. */
export interface ClaimedDelivery {
  id: number;
  destination: string;
  attempts: number;
  createdAt: number;
  event: StoredEvent;
}

export interface DeliveryUpdate {
  id: number;
  state: DeliveryState;
  /** For `pending`: when to try next (ms since epoch). */
  nextAt?: number;
  /** Counts this update as one more attempt (a request was sent, or would have been in dry run). */
  attempted?: boolean;
  /** The vendor's HTTP status, when there was an answer. */
  status?: number;
  /** Why: the vendor's message, a network error, a skip reason. */
  detail?: string;
  /** The request as sent (secrets redacted), kept for the debug page and dry runs. */
  request?: string;
}

export interface DestinationStats {
  destination: string;
  pending: number;
  oldestPendingAt?: number;
  delivered: number;
  skipped: number;
  rejected: number;
  dead: number;
}

export interface DeliveryRecord {
  id: number;
  eventId: string;
  eventName: string;
  destination: string;
  state: DeliveryState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  status?: number;
  detail?: string;
  request?: string;
  /** A pending delivery's next attempt, ms since 1970 (`eventDeliveries` only). */
  nextAt?: number;
  /** A request for it is in flight now: leased to a collector (`eventDeliveries` only). */
  inFlight?: boolean;
}

/** What the debug page looks for: every filter given must match. */
export interface EventQuery {
  /** This event id exactly: found however old it is. */
  id?: string;
  name?: string;
  /** One of the event's click id values (any parameter), exactly. */
  clickId?: string;
  /** Received at or after / at or before, ms since 1970. */
  since?: number;
  until?: number;
  limit: number;
  /** Without an id, how many of the newest events the filters look through (default 10,000): a bounded cost. */
  window?: number;
}

/** A destination's delivery state as the whole fleet sees it (PostgreSQL: the `lanes` table). */
export interface LaneRecord {
  /** Moves at every change of mind; a collector changes the record only from the epoch it knows. */
  epoch: number;
  state: 'active' | 'backing-off' | 'paused';
  failures: number;
  /** No request before this time, ms since epoch (the backoff of a failing or paused destination). */
  blockedUntil: number;
  reason?: string;
  /** The collector that made the last change. */
  updatedBy?: string;
}

/** One destination's lane state, shared by the collectors of a fleet through their store. */
export interface SharedLane {
  /** The record as stored now. */
  read(): Promise<LaneRecord>;
  /**
   * Stores `next` if the record is still at epoch `from` (nobody else changed it meanwhile) and
   * resolves with it; otherwise resolves with the record that is stored (another collector's news).
   */
  move(from: number, next: LaneRecord): Promise<LaneRecord>;
  /** Takes the one probe of a failing destination at `epoch` until `until`; false if another collector has it. */
  takeProbe(epoch: number, now: number, until: number): Promise<boolean>;
  /** Gives back a probe taken and not used (nothing was due). */
  releaseProbe(epoch: number): Promise<void>;
}

/** A collector serving a shared store, as it last reported. */
export interface CollectorRecord {
  id: string;
  host: string;
  pid: number;
  version: string;
  startedAt: number;
  seenAt: number;
}

/** What several collectors on one store share: the lanes and who is serving. Absent on SQLite (one process). */
export interface Fleet {
  /** This collector's id in the fleet (host:pid). */
  readonly id: string;
  lane(destination: string): SharedLane;
  /** Registers this collector and keeps reporting it alive until `leave`. */
  join(version: string): Promise<void>;
  leave(): Promise<void>;
  /** The collectors seen within `withinMs`, and every destination's shared lane state. */
  status(withinMs: number): Promise<{ collectors: CollectorRecord[]; lanes: (LaneRecord & { destination: string })[] }>;
}

/** Durable storage of events and their deliveries. SQLite is embedded; PostgreSQL lets collectors share a queue. */
export interface Store {
  /** Shared lane state and membership, when several collectors may serve this store (PostgreSQL). */
  readonly fleet?: Fleet;
  /** The directory on this machine whose disk holds the store (embedded stores), watched for free space. */
  readonly localDirectory?: string;
  /**
   * The smallest share of a lane's window worth a claim while it has requests in flight (default 1/8). A
   * PostgreSQL claim is two statements and their commits, most of a delivery's cost there: it waits for more.
   */
  readonly claimShare?: number;
  /** Stores events not seen before and their deliveries; resolves once durably committed. */
  ingest(events: NewEvent[]): Promise<IngestResult>;
  /**
   * Leases up to `limit` due deliveries of one destination, oldest first, until `update` reports on
   * them or `leaseMs` passes (a store shared by several processes needs the time; SQLite does not).
   */
  claim(destination: string, limit: number, now: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** Records what became of claimed deliveries. */
  update(updates: DeliveryUpdate[]): Promise<void>;
  /**
   * Makes these deliveries due at `now` if they are still pending and waiting for a later time (a
   * vendor's outage is over: what waited only for it goes again).
   */
  retryNow(ids: number[], now: number): Promise<void>;
  /** Deliveries per state and the oldest waiting one, per destination: for operators (a scan for the oldest). */
  stats(): Promise<DestinationStats[]>;
  /** Deliveries waiting, per destination: cheap enough for every /metrics scrape. */
  queueDepth(): Promise<Map<string, number>>;
  /** The latest deliveries created, newest first, for the debug page. */
  recentDeliveries(limit: number): Promise<DeliveryRecord[]>;
  /** Recent events, newest first, for the debug page and tests. */
  recentEvents(limit: number): Promise<StoredEvent[]>;
  /** Recent id conflicts, newest first, for the debug page. */
  recentConflicts(limit: number): Promise<IdConflict[]>;
  /** Events matching the debug page's filters, newest first. */
  findEvents(query: EventQuery): Promise<StoredEvent[]>;
  /** Every delivery of these events (with a pending one's next attempt, and whether it is in flight), oldest first. */
  eventDeliveries(eventIds: readonly string[]): Promise<DeliveryRecord[]>;
  /**
   * Puts one destination's deliveries in `states`, ended since `since`, back in the queue as new
   * deliveries; reports progress; returns how many.
   */
  requeue(
    destination: string,
    states: readonly ReplayableState[],
    since: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<number>;
  /**
   * Erasure (GDPR Art. 17, CCPA): deletes the person's events, with their deliveries (and the requests
   * recorded for them) and id conflicts. An email finds the events that still carry it, and then every
   * event of the same visitors (anonymous ids), since personal data leaves an event once it is delivered.
   */
  forget(person: Person): Promise<Forgotten>;
  /** Remembers the click ids and consent browser events carried, per visitor (later values win). */
  rememberVisitors(updates: VisitorUpdate[]): Promise<void>;
  /** What is remembered of these visitors, updated since `since` (the attribution window). */
  visitors(anonymousIds: string[], since: number): Promise<Map<string, VisitorMemory>>;
  /**
   * Claims the sending of conversions (`name:transaction_id`) to destinations, one per delivery: for
   * each, true when this delivery is the one (the first to ask, or it asked before), false when another has it.
   */
  claimConversions(claims: ConversionClaim[]): Promise<boolean[]>;
  /** Deletes old events in small batches (never a long lock); returns how many events. */
  purge(cutoffs: PurgeCutoffs): Promise<number>;
  /** Copies the store to `path`, consistently while it is in use (embedded stores; PostgreSQL has pg_dump). */
  backup?(path: string): Promise<void>;
  /** Throws when the store cannot be used: StoreReadOnly when it answers but takes no writes. */
  check(): Promise<void>;
  close(): Promise<void>;
}
