/**
 * A run's numbers settled by a CAMS answer (enriched or failed) per second over the last
 * `windowSeconds`, oldest first; seconds without any are left out. Read through the index kept for the
 * run's rate (`run_items_done_recently`).
 */
import type { Queryable } from '../pool.js';

export interface SettledSecond {
  /** Start of the second, ms since the epoch. */
  t: number;
  enriched: number;
  failed: number;
}

export async function runTimeline(
  db: Queryable,
  runId: number,
  windowSeconds: number,
): Promise<SettledSecond[]> {
  const { rows } = await db.query<{ t: Date; enriched: string; failed: string }>(
    `SELECT date_trunc('second', updated_at) AS t,
            count(*) FILTER (WHERE state = 'enriched') AS enriched,
            count(*) FILTER (WHERE state = 'failed') AS failed
     FROM run_items
     WHERE run_id = $1 AND state IN ('enriched', 'failed') AND updated_at > now() - make_interval(secs => $2)
     GROUP BY 1 ORDER BY 1`,
    [runId, windowSeconds],
  );
  return rows.map((r) => ({ t: r.t.getTime(), enriched: Number(r.enriched), failed: Number(r.failed) }));
}
