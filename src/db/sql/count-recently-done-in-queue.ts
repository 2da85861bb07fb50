/**
 * Numbers the queue's runs settled (enriched or failed) in the last `windowSeconds`: the fleet's pace,
 * shared out between the runs for their ETAs.
 */
import type { Queryable } from '../pool.js';

export interface CountRecentlyDoneInQueue {
  queue: string;
  windowSeconds: number;
}

export async function countRecentlyDoneInQueue(db: Queryable, p: CountRecentlyDoneInQueue): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM run_items
     WHERE run_id IN (SELECT id FROM runs WHERE queue = $1
                        AND (finished_at IS NULL OR finished_at > now() - make_interval(secs => $2)))
       AND state IN ('enriched', 'failed') AND updated_at > now() - make_interval(secs => $2)`,
    [p.queue, p.windowSeconds],
  );
  return Number(rows[0]?.n ?? 0);
}
