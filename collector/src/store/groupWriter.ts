import pg from 'pg';

/** Deadlocks and serialization failures: the statement did nothing and can run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * SQLSTATE classes of an error in one item's data, which the others of its group need not share:
 * 21 cardinality violation, 22 data exception, 23 integrity constraint violation, 54 program limit
 * exceeded (a group too large for one statement). Anything else (08 connection, 25 read-only
 * transaction, 53 insufficient resources such as a full disk, 57 operator intervention, 58 system
 * error, …) fails every item alike: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const ITEM_CLASSES = /^(21|22|23|54)/;

/** Whether a group that failed with `e` should be written again one item at a time. */
export function itemError(e: unknown): boolean {
  return e instanceof pg.DatabaseError && ITEM_CLASSES.test(e.code ?? '');
}

/** Runs `run`, again (up to four more times, after a short random pause) when it deadlocked or could not serialize. */
export async function withRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (attempt >= 4 || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

/**
 * Group commit with more than one group in flight: items queued while fewer than `maxInFlight` groups
 * are running go out together as the next group (one statement, one commit); while all are running,
 * new items wait and form the group after. Each caller hears back once its group committed.
 */
export class GroupWriter<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly maxInFlight: number,
    private readonly write: (items: T[]) => Promise<R[]>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || !this.queue.length) return;
    this.scheduled = true;
    // The rest of this turn of the event loop joins the group.
    setImmediate(() => {
      this.scheduled = false;
      const group = this.queue;
      this.queue = [];
      if (!group.length) return;
      this.inFlight++;
      withRetry(() => this.write(group.map((g) => g.item)))
        .then(
          (results): unknown => group.forEach((g, i) => g.resolve(results[i]!)),
          // One bad item must not fail the others: each on its own. Not when the error is not about an
          // item (the database gone, read-only, its disk full): that would only fail them again, one by one.
          (e: unknown): unknown =>
            group.length === 1 || !itemError(e)
              ? group.forEach((g) => g.reject(e))
              : Promise.all(
                  group.map((g) => withRetry(() => this.write([g.item])).then((r) => g.resolve(r[0]!), g.reject)),
                ),
        )
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    });
  }

  get idle(): boolean {
    return this.inFlight === 0 && !this.queue.length;
  }
}
