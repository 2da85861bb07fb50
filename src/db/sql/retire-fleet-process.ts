/** Stores the queue's retired counters (with a stopping process's added) and removes that process's snapshot. */
import type { Queryable } from '../pool.js';

export async function retireFleetProcess(
  db: Queryable,
  p: { queue: string; id: string; retired: string },
): Promise<void> {
  await db.query(
    `WITH gone AS (DELETE FROM fleet_processes WHERE queue = $1 AND id = $2)
     UPDATE fleet_retired SET snapshot = $3 WHERE queue = $1`,
    [p.queue, p.id, p.retired],
  );
}
