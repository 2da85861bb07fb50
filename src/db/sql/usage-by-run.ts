/** The usage figures of some runs, summed over days and spaces (`status`). */
import type { Queryable } from '../pool.js';

export interface RunUsageCount {
  runId: number;
  metric: string;
  n: number;
}

export async function usageByRun(db: Queryable, runIds: readonly number[]): Promise<RunUsageCount[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query<{ run_id: string; metric: string; n: string }>(
    `SELECT run_id, metric, sum(n) AS n FROM usage_counts
     WHERE run_id = ANY ($1::bigint[])
     GROUP BY run_id, metric`,
    [[...runIds]],
  );
  return rows.map((r) => ({ runId: Number(r.run_id), metric: r.metric, n: Number(r.n) }));
}
