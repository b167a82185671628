import type { StoredEvent } from '../event.js';

/** The state of one delivery (one event to one destination). */
export type DeliveryState =
  | 'pending' // waiting to be sent, or waiting for its next try
  | 'delivered' // the vendor accepted it (or dry run recorded it)
  | 'skipped' // not sent on purpose: consent, mapping
  | 'rejected' // cannot be sent: the vendor's rules or its 4xx answer
  | 'dead'; // retried until the retry age or count ran out

export interface NewEvent {
  event: StoredEvent;
  /** Destinations that take this event; one pending delivery is created for each. */
  destinations: string[];
}

export interface IngestResult {
  stored: number;
  duplicates: number;
}

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
}

/** Durable storage of events and their deliveries. SQLite is embedded; PostgreSQL lets collectors share a queue. */
export interface Store {
  /** Stores events not seen before and their deliveries; resolves once durably committed. */
  ingest(events: NewEvent[]): Promise<IngestResult>;
  /**
   * Leases up to `limit` due deliveries of one destination, oldest first, until `update` reports on
   * them or `leaseMs` passes (a store shared by several processes needs the time; SQLite does not).
   */
  claim(destination: string, limit: number, now: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /** Records what became of claimed deliveries. */
  update(updates: DeliveryUpdate[]): Promise<void>;
  /** Deliveries per state and the oldest waiting one, per destination: for operators (a scan for the oldest). */
  stats(): Promise<DestinationStats[]>;
  /** Deliveries waiting, per destination: cheap enough for every /metrics scrape. */
  queueDepth(): Promise<Map<string, number>>;
  /** The latest deliveries created, newest first, for the debug page. */
  recentDeliveries(limit: number): Promise<DeliveryRecord[]>;
  /** Recent events, newest first, for the debug page and tests. */
  recentEvents(limit: number): Promise<StoredEvent[]>;
  /**
   * Puts dead letters (given up or refused) of one destination updated since `since` back in the
   * queue as new deliveries; reports progress; returns how many.
   */
  requeueDead(destination: string, since: number, onProgress?: (done: number, total: number) => void): Promise<number>;
  /**
   * Deletes events whose deliveries are all done and that arrived before `deliveredBefore`, and
   * those whose dead letters are older than `deadBefore`; returns how many events.
   */
  purge(deliveredBefore: number, deadBefore: number): Promise<number>;
  /** Throws when the store cannot be used. */
  check(): Promise<void>;
  close(): Promise<void>;
}
