/** How many runs the ledger holds. */
import type { Queryable } from '../pool.js';

export async function countRuns(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM runs');
  return Number(rows[0]?.n ?? 0);
}
