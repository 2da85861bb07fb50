/** Deletes up to `limit` run_items rows of the run (one batch of a prune); returns how many. */
import type { Queryable } from '../pool.js';

export interface DeleteRunRows {
  runId: number;
  limit: number;
}

export async function deleteRunItems(db: Queryable, p: DeleteRunRows): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM run_items WHERE ctid = ANY (ARRAY(SELECT ctid FROM run_items WHERE run_id = $1 LIMIT $2))`,
    [p.runId, p.limit],
  );
  return rowCount ?? 0;
}
