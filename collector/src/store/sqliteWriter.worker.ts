import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './sqliteSchema.js';
import { GroupCommitter, type WriteOp } from './sqliteWrites.js';

/**
 * The SQLite writer thread. A commit waits for fsync; here that wait blocks no HTTP request, and
 * the writes that arrive meanwhile go into the next group commit.
 */
const db = openDatabase(workerData.path as string);
const committer = new GroupCommitter(db);

parentPort!.on('message', (msg: { seq: number; write: WriteOp } | 'close') => {
  if (msg === 'close') {
    committer.commit();
    db.close();
    parentPort!.postMessage({ closed: true });
    return;
  }
  committer.enqueue(msg.write, (error, result) => {
    parentPort!.postMessage(
      error ? { seq: msg.seq, error: (error as Error).message ?? String(error) } : { seq: msg.seq, result },
    );
  });
});
