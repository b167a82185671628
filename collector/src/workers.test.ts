import { describe, expect, it } from 'vitest';
import { RestartDelays, storeConnectionsPerProcess, workerCount, WorkersError } from './workers.js';

const pg = 'postgres://u:p@db.internal:5432/tagrelay';

describe('serve --workers', () => {
  it('shares storeConnections among the processes: by default the larger of 10 and 4 a process', () => {
    expect([1, 2, 3, 4, 16].map((n) => storeConnectionsPerProcess({ store: pg }, n))).toEqual([10, 5, 4, 4, 4]);
    expect(storeConnectionsPerProcess({ store: pg, storeConnections: 30 }, 4)).toBe(7);
    expect(storeConnectionsPerProcess({ store: 'sqlite:./t.db', storeConnections: 1 }, 1)).toBeUndefined();
    expect(() => storeConnectionsPerProcess({ store: pg, storeConnections: 6 }, 4)).toThrow(
      new WorkersError('storeConnections 6: --workers 4 needs at least 8 (2 per process); raise it or run fewer workers'),
    );
  });

  it('runs one process on SQLite and refuses more', () => {
    expect(workerCount(undefined, 'sqlite:./t.db')).toBe(1);
    expect(workerCount('3', pg)).toBe(3);
    expect(() => workerCount('2', 'sqlite:./t.db')).toThrow(WorkersError);
    expect(() => workerCount('0', pg)).toThrow('--workers 0: expected a number of processes from 1 to 256');
  });

  it('backs off a place whose replacements cannot start, on its own: another place that served is replaced after 1 s', () => {
    const delays = new RestartDelays(2);
    expect([false, false, false].map(() => delays.next(0, false))).toEqual([2000, 4000, 8000]);
    expect(delays.next(1, true)).toBe(1000);
    expect(delays.next(0, false)).toBe(16_000); // not reset by the other place
    expect(delays.next(1, false)).toBe(2000);
    for (let i = 0; i < 10; i++) delays.next(0, false);
    expect(delays.next(0, false)).toBe(60_000);
    expect(delays.next(0, true)).toBe(1000); // served: the next death is news, not a failing start
  });
});
