/** Throttles of runs by second, added to `run_throttles` in one statement (rows in key order). */
import type { Queryable } from '../pool.js';

export interface RunThrottles {
  runId: number;
  /** Start of the second, ms since the epoch. */
  second: number;
  n: number;
}

export async function addRunThrottles(db: Queryable, counts: readonly RunThrottles[]): Promise<void> {
  if (counts.length === 0) return;
  await db.query(
    `INSERT INTO run_throttles AS r (run_id, second, n)
     SELECT t.run_id, to_timestamp(t.ms / 1000.0), sum(t.n)
     FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS t(run_id, ms, n)
     WHERE EXISTS (SELECT 1 FROM runs WHERE id = t.run_id)
     GROUP BY 1, 2
     ORDER BY 1, 2
     ON CONFLICT (run_id, second) DO UPDATE SET n = r.n + EXCLUDED.n`,
    [counts.map((c) => c.runId), counts.map((c) => c.second), counts.map((c) => c.n)],
  );
}
