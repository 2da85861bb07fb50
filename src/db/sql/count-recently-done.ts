/** Numbers of the run that reached a final state (enriched or failed) in the last `windowSeconds`. */
import type { Queryable } from '../pool.js';

export interface CountRecentlyDone {
  runId: number;
  windowSeconds: number;
}

export async function countRecentlyDone(db: Queryable, p: CountRecentlyDone): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM run_items
     WHERE run_id = $1 AND state IN ('enriched', 'failed') AND updated_at > now() - make_interval(secs => $2)`,
    [p.runId, p.windowSeconds],
  );
  return Number(rows[0]?.n ?? 0);
}
