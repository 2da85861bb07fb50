/** How many runs a queue has. */
import type { Queryable } from '../pool.js';

export async function countRuns(db: Queryable, queue: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM runs WHERE queue = $1', [queue]);
  return Number(rows[0]?.n ?? 0);
}
