/** For each run named, its numbers that reached a final state (enriched or failed) in the last `windowSeconds`. */
import type { Queryable } from '../pool.js';

export async function countRecentlyDoneByRun(
  db: Queryable,
  runIds: readonly number[],
  windowSeconds: number,
): Promise<Map<number, number>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await db.query<{ run_id: string; n: string }>(
    `SELECT run_id, count(*) AS n FROM run_items
     WHERE run_id = ANY($1::bigint[]) AND state IN ('enriched', 'failed')
       AND updated_at > now() - make_interval(secs => $2)
     GROUP BY run_id`,
    [runIds, windowSeconds],
  );
  return new Map(rows.map((r) => [Number(r.run_id), Number(r.n)]));
}
