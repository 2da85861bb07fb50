/** Deletes up to `limit` run_duplicates rows of the run (one batch of a prune); returns how many. */
import type { Queryable } from '../pool.js';
import type { DeleteRunRows } from './delete-run-items.js';

export async function deleteRunDuplicates(db: Queryable, p: DeleteRunRows): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM run_duplicates WHERE ctid = ANY (ARRAY(SELECT ctid FROM run_duplicates WHERE run_id = $1 LIMIT $2))`,
    [p.runId, p.limit],
  );
  return rowCount ?? 0;
}
