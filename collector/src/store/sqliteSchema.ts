import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const SCHEMA = `
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
DROP TRIGGER IF EXISTS delivery_counts_insert;
CREATE TRIGGER IF NOT EXISTS delivery_counts_update AFTER UPDATE OF state ON deliveries WHEN OLD.state != NEW.state BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS delivery_counts_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE destination = OLD.destination AND state = OLD.state;
END;
`;

/** Whether the store was made by a version that keyed deliveries by the event's text id. */
function isVersion1(db: Database.Database): boolean {
  const columns = db.prepare(`SELECT name FROM pragma_table_info('deliveries')`).pluck().all() as string[];
  return columns.includes('event_id');
}

/**
 * Version 1 kept deliveries by the event's text id; version 2 by the event's integer `seq`, whose index
 * only ever appends (a fifth less work for the writer per event). The old tables are renamed, the new
 * ones made by SCHEMA, and the rows copied, in the caller's transaction.
 */
function setAsideVersion1(db: Database.Database): void {
  db.exec(`ALTER TABLE deliveries RENAME TO deliveries_v1;
           ALTER TABLE events RENAME TO events_v1;
           DROP INDEX IF EXISTS deliveries_due;
           DROP INDEX IF EXISTS deliveries_dead;
           DROP TRIGGER IF EXISTS delivery_counts_update;
           DROP TRIGGER IF EXISTS delivery_counts_delete;`);
}

function copyVersion1(db: Database.Database): void {
  db.exec(`INSERT INTO events (seq, id, name, received_at, body, scrubbed)
             SELECT rowid, id, name, received_at, body, scrubbed FROM events_v1;
           INSERT INTO deliveries (id, event_seq, destination, state, attempts, created_at, updated_at, next_at, status, detail, request)
             SELECT d.id, e.seq, d.destination, d.state, d.attempts, d.created_at, d.updated_at, d.next_at, d.status, d.detail, d.request
               FROM deliveries_v1 d JOIN events e ON e.id = d.event_id;
           DROP TABLE deliveries_v1;
           DROP TABLE events_v1;`);
}

/**
 * Opens the SQLite file in WAL mode with `synchronous=FULL`: a commit is on disk (fsync) before it
 * returns, so an acknowledged event survives a crash of the process and of the machine. A store made
 * by an earlier version is brought up to date first, in one transaction.
 */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF'); // while tables may be renamed and copied
  db.exec('BEGIN IMMEDIATE');
  try {
    const hadCounts = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'delivery_counts'`).get() !== undefined;
    const v1 = isVersion1(db);
    if (v1) setAsideVersion1(db);
    db.exec(SCHEMA);
    if (v1) copyVersion1(db);
    if (!hadCounts) {
      // A store from before the counts table: count once.
      db.exec(`INSERT OR REPLACE INTO delivery_counts (destination, state, n)
               SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state`);
    }
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    db.close();
    throw e;
  }
  db.pragma('foreign_keys = ON');
  return db;
}
