import { describe, expect, it } from 'vitest';
import { openDatabase } from './sqliteSchema.js';
import type { RequestContext } from '../event.js';
import { packIngestRows, type IngestRows } from './sqliteIngestRows.js';
import { GroupCommitter, type WriteResult } from './sqliteWrites.js';

/** An ingest of `ids`, each routed to `destinations`. */
function ingest(ids: string[], destinations: string[], receivedAt = 1): { op: 'ingest'; rows: IngestRows } {
  const context = { receivedAt } as RequestContext;
  return {
    op: 'ingest',
    rows: packIngestRows(ids.map((id) => ({ event: { id, name: 'purchase', time: 1 }, context, destinations }))),
  };
}

describe('GroupCommitter', () => {
  it('counts the new pending deliveries of a group commit once, and only those of the writes it keeps', () => {
    const db = openDatabase(':memory:');
    const committer = new GroupCommitter(db);
    const results: { error?: unknown; result?: WriteResult }[] = [];
    const done = (error: unknown, result?: WriteResult) => results.push({ error, result });
    committer.enqueue(ingest(['e1', 'e2'], ['a', 'b']), done);
    committer.enqueue(ingest(['e2', 'e3'], ['a']), done); // e2 again: a repeat, not counted
    // A time SQLite refuses (NaN is bound as NULL: NOT NULL) fails this write: the group is written again
    // one write at a time, and what this write would have counted (e4 for a) is not counted.
    committer.enqueue(ingest(['e4'], ['a'], NaN), done);
    committer.enqueue(ingest(['e5'], ['b']), done);
    committer.commit();

    expect(results.map((r) => (r.error ? 'failed' : r.result))).toEqual([
      { stored: 2, duplicates: 0, conflicts: [] },
      { stored: 1, duplicates: 1, conflicts: [] },
      'failed',
      { stored: 1, duplicates: 0, conflicts: [] },
    ]);
    const counts = db
      .prepare(`SELECT destination, n FROM delivery_counts WHERE state = 'pending' ORDER BY destination`)
      .all();
    expect(counts).toEqual([
      { destination: 'a', n: 3 },
      { destination: 'b', n: 3 },
    ]);
    db.close();
  });
});
