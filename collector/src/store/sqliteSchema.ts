import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from './types.js';

/**
 * The SQLite schema as numbered migrations; `PRAGMA user_version` holds how many a store has had.
 * Each runs once, in order, in the transaction that opens the store. Never edit one that shipped:
 * add the next.
 */
const MIGRATIONS: readonly string[] = [
  // 1: events, deliveries, and the counts /metrics reads. (Stores made by 0.1 have these tables with
  // user_version 0: every statement here keeps what exists.)
  `
CREATE TABLE IF NOT EXISTS events (
  seq         INTEGER PRIMARY KEY,
  id          TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body        TEXT NOT NULL,
  scrubbed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
  id          INTEGER PRIMARY KEY,
  event_seq   INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending',
  attempts    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  next_at     INTEGER NOT NULL,
  status      INTEGER,
  detail      TEXT,
  request     TEXT,
  UNIQUE (event_seq, destination)
);
-- Every index costs each write: rows are listed newest first by rowid, and purge scans from the oldest.
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (destination, next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (destination, updated_at) WHERE state IN ('dead', 'rejected');

-- Deliveries per destination and state, so /metrics and /debug never count a million rows. New
-- deliveries are counted by the ingest write, once per batch and destination (a trigger per row cost
-- a fifth of the writer's time); state changes and deletes by triggers, so they stay exact whoever
-- writes (tagrelay replay runs in another process).
CREATE TABLE IF NOT EXISTS delivery_counts (
  destination TEXT NOT NULL,
  state       TEXT NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (destination, state)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS delivery_counts_update AFTER UPDATE OF state ON deliveries WHEN OLD.state != NEW.state BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS delivery_counts_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
END;
`,
  // 2: what an event held when it arrived (a digest of its JSON without the request context), so an
  // id that comes back with other content is told apart from a repeat; and those conflicts, kept for /debug.
  `
ALTER TABLE events ADD COLUMN digest BLOB;
CREATE TABLE id_conflicts (
  seq         INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body        TEXT NOT NULL
);
`,
  // 3: what the collector remembers of a visitor (click ids with their capture time, latest consent),
  // for events that arrive without them; and which delivery sends each conversion to each destination.
  `
CREATE TABLE visitors (
  anonymous_id TEXT PRIMARY KEY,
  click_ids    TEXT NOT NULL DEFAULT '{}',
  consent      TEXT,
  updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE conversion_sends (
  conversion  TEXT NOT NULL,
  destination TEXT NOT NULL,
  delivery_id INTEGER NOT NULL,
  claimed_at  INTEGER NOT NULL,
  PRIMARY KEY (conversion, destination)
) WITHOUT ROWID;
`,
  // 4: a delivery gets its row at its first attempt, not with its event: the event names its destinations
  // (routes: ",chase,impact,"), and a destination's first attempts walk the events in order, from the last
  // event before which every one of its deliveries has a row (lane_cursors; '*' for a destination not
  // seen yet: the events stored before this migration all have their rows).
  `
ALTER TABLE events ADD COLUMN routes TEXT;
CREATE TABLE lane_cursors (
  destination TEXT PRIMARY KEY,
  seq         INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO lane_cursors (destination, seq) SELECT '*', coalesce(max(seq), 0) FROM events;
-- A row made by a delivery's first attempt may already hold its outcome: the delivery left the
-- pending count the ingest put it in.
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries WHEN NEW.state != 'pending' BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = NEW.destination AND state = 'pending';
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
`,
];

/** The schema version this code writes. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The page size of a new store, in bytes. A commit appends each page it changed to the WAL (two writes a page)
 * and the checkpoint copies it on: with 8 KB pages a 10-event request took 4.5 WAL writes instead of 7.6, and
 * the writer and checkpointer 5–10 % less CPU, in every group size from 4 to 25 requests; 16 KB pages cost
 * more than 4 KB (each commit rewrites its last, partly filled pages whole). BENCHMARKS.md, twenty-first stop.
 * A store keeps the page size it was made with: in WAL mode SQLite changes it only on an empty file.
 */
export const SQLITE_PAGE_SIZE = 8192;

/**
 * Opens the SQLite file in WAL mode with `synchronous=FULL`: a commit is on disk (fsync) before it
 * returns, so an acknowledged event survives a crash of the process and of the machine. Migrations
 * the store has not had yet run first, in one transaction; a store made by a newer tagrelay is refused.
 */
export function openDatabase(path: string): Database.Database {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    // Before WAL mode: once in WAL mode, an empty file keeps the default page size.
    db.pragma(`page_size = ${SQLITE_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
  } catch (e) {
    throw new StoreError(`cannot open the SQLite store ${path}: ${(e as Error).message}`);
  }
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  // Deleted and rewritten rows (erasure, personal data removed after delivery) are overwritten on disk.
  db.pragma('secure_delete = ON');
  try {
    db.exec('BEGIN IMMEDIATE');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new StoreError(
        `the SQLite store ${path} has schema version ${version}, made by a newer tagrelay (this one knows ${MIGRATIONS.length}): upgrade tagrelay`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
    throw e;
  }
  return db;
}
