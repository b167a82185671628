import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setReadOnly, testDatabase } from '../../../e2e/postgres.js';
import { sql } from '../../../scripts/postgres.mjs';
import { GroupWriter, itemError } from './groupWriter.js';

describe('GroupWriter on a real PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let pool: pg.Pool;
  /** The statements each group ran, by how many items they carried. */
  let statements: number[];
  /** Writes a group of numbers (as text) in one statement: a row each, cast to integer. */
  const writer = () =>
    new GroupWriter<string, number>(1, async (items) => {
      statements.push(items.length);
      const { rows } = await pool.query<{ n: number }>(
        'INSERT INTO numbers SELECT unnest($1::text[])::integer RETURNING n',
        [items],
      );
      return rows.map((r) => r.n);
    });
  /** `items` added in one turn of the event loop (one group): each one's value or its error's SQLSTATE. */
  const addAll = (w: GroupWriter<string, number>, items: string[]) =>
    Promise.all(
      items.map((i) =>
        w.add(i).then(
          (n) => n,
          (e: pg.DatabaseError) => e.code,
        ),
      ),
    );

  beforeAll(async () => {
    db = await testDatabase();
    await sql(db.url, 'CREATE TABLE numbers (n integer)');
  });
  // A pool of its own for each test: making the database read-only ends the sessions open on it.
  beforeEach(() => {
    pool = new pg.Pool({ connectionString: db.url });
    pool.on('error', () => {});
  });
  afterEach(() => pool.end());
  afterAll(() => db.drop());

  it('an error in one item (22P02, not a number) writes the others one by one, and fails only that one', async () => {
    statements = [];
    expect(await addAll(writer(), ['1', 'x', '3'])).toEqual([1, '22P02', 3]);
    expect(statements).toEqual([3, 1, 1, 1]);
  });

  it('an error that is not about an item (25006, the database read-only) fails the group at once', async () => {
    await pool.end();
    await setReadOnly(db.url, true);
    pool = new pg.Pool({ connectionString: db.url });
    try {
      statements = [];
      expect(await addAll(writer(), ['1', '2', '3'])).toEqual(['25006', '25006', '25006']);
      expect(statements).toEqual([3]);
    } finally {
      await setReadOnly(db.url, false);
    }
  });

  it("splits on the classes of one item's data only: a full disk or a lost connection is everyone's", () => {
    const error = (code: string) => Object.assign(new pg.DatabaseError('', 0, 'error'), { code });
    expect(['21000', '22P02', '23505', '54000'].map((c) => itemError(error(c)))).toEqual([true, true, true, true]);
    expect(['08006', '25006', '53100', '53300', '57P01', '58030', 'XX000'].some((c) => itemError(error(c)))).toBe(
      false,
    );
    expect(itemError(new Error('not from the database'))).toBe(false);
  });
});
