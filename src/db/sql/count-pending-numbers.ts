/** Numbers of the queue's runs still waiting for an answer (the ledger's count, not Redis's). */
import type { Queryable } from '../pool.js';

export async function countPendingNumbers(db: Queryable, queue: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT coalesce(sum(pending), 0) AS n FROM runs WHERE queue = $1',
    [queue],
  );
  return Number(rows[0]?.n ?? 0);
}
