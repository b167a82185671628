import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body        TEXT NOT NULL,
  scrubbed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
  id          INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending',
  attempts    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  next_at     INTEGER NOT NULL,
  status      INTEGER,
  detail      TEXT,
  request     TEXT,
  UNIQUE (event_id, destination)
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

/**
 * Opens the SQLite file in WAL mode with `synchronous=FULL`: a commit is on disk (fsync) before it
 * returns, so an acknowledged event survives a crash of the process and of the machine.
 */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const hadCounts = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'delivery_counts'`).get() !== undefined;
  db.exec(SCHEMA);
  if (!hadCounts) {
    // A store from before the counts table: count once.
    db.exec(`INSERT OR REPLACE INTO delivery_counts (destination, state, n)
             SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state`);
  }
  return db;
}
