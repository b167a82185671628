import { parentPort, Worker, workerData } from 'node:worker_threads';
import { openDatabase } from './sqliteSchema.js';
import { GroupCommitter, type WriteOp, type WriteResult } from './sqliteWrites.js';

/**
 * The SQLite writer thread. A commit waits for fsync; here that wait blocks no HTTP request, and
 * the writes that arrive meanwhile go into the next group commit.
 */
const db = openDatabase(workerData.path as string);
// Copying the WAL into the database file happens on a thread of its own, beside the commits. If that
// thread fails, the writer's automatic checkpoints still do all of it, as SQLite does by default.
const checkpointer = new Worker(new URL('./sqliteCheckpointer.worker.js', import.meta.url), {
  workerData: { path: workerData.path as string, intervalMs: 50 },
});
checkpointer.on('error', () => {});
const checkpointerExited = new Promise<void>((resolve) => checkpointer.once('exit', () => resolve()));
const committer = new GroupCommitter(db);

type Reply = { seq: number; result?: WriteResult; error?: string };
let replies: Reply[] = [];

/** Replies of one group commit go back together. */
function reply(r: Reply): void {
  if (replies.push(r) === 1) {
    queueMicrotask(() => {
      parentPort!.postMessage(replies);
      replies = [];
    });
  }
}

parentPort!.on('message', (msg: { seq: number; write: WriteOp }[] | 'close') => {
  if (msg === 'close') {
    committer.commit();
    checkpointer.postMessage('close');
    void checkpointerExited.then(() => {
      db.close();
      parentPort!.postMessage([]);
    });
    return;
  }
  for (const { seq, write } of msg) {
    committer.enqueue(write, (error, result) =>
      reply(error ? { seq, error: (error as Error).message ?? String(error) } : { seq, result }),
    );
  }
});
