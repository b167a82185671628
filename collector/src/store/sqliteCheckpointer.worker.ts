import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The SQLite checkpointer thread: copies committed pages from the WAL into the database file beside
 * the writer, so that the writer's own automatic checkpoint (which it runs inside a commit, every
 * 1,000 pages) finds almost nothing left to copy and only lets the WAL start again from its head.
 * Without it every few hundred requests waited on one commit that copied 4 MB and synced the
 * database file. PASSIVE never waits for the writer or for readers.
 */
const db = new Database(workerData.path as string);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy: the writer's automatic checkpoint or the next turn copies it.
  }
}, workerData.intervalMs as number);

parentPort!.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
