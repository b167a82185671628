import Database from 'better-sqlite3';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { StoreError } from './types.js';

/**
 * Which process holds a POSIX lock on `file`, from the kernel's own table (Linux /proc/locks); the pid
 * the holder wrote beside the lock elsewhere.
 */
function holderOf(file: string, pidFile: string): string {
  try {
    const ino = statSync(file).ino;
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      // "1: POSIX  ADVISORY  WRITE 10104 fe:00:2146470 1073741824 1073742335"
      const f = line.trim().split(/\s+/);
      if (f[1] === 'POSIX' && f[5]?.endsWith(`:${ino}`)) return f[4]!;
    }
  } catch {
    // not Linux: the pid file below
  }
  try {
    return readFileSync(pidFile, 'utf8').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * One process serves an SQLite store. The collector holds an exclusive lock on `<store>.lock` (an
 * SQLite file in exclusive locking mode: SQLite takes a POSIX lock on it and never lets it go) for as
 * long as it runs; the operating system drops the lock when the process ends, however it ends, so a
 * crash leaves nothing behind that blocks the next start. A second collector on the same store fails
 * at once, naming the file and the pid that holds it. Returns the release function.
 */
export function lockSqliteStore(path: string): () => void {
  const lockFile = `${path}.lock`;
  const pidFile = `${path}.lock.pid`;
  let db: Database.Database;
  try {
    db = new Database(lockFile, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
  } catch (e) {
    throw new StoreError(`cannot open the SQLite store's lock file ${lockFile}: ${(e as Error).message}`);
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new StoreError(
        `the SQLite store ${path} is in use by another process (pid ${holderOf(lockFile, pidFile)}): an SQLite store serves one collector; use PostgreSQL to run several`,
      );
    }
    throw new StoreError(`cannot lock the SQLite store ${path}: ${(e as Error).message}`);
  }
  // For the message above on systems without /proc/locks; the lock, not this file, decides.
  try {
    writeFileSync(pidFile, `${process.pid}\n`);
  } catch {
    // informative only
  }
  return () => db.close();
}
