/** A run's throttles per second over the last `windowSeconds`, oldest first; seconds without any are left out. */
import type { Queryable } from '../pool.js';

export async function runThrottles(
  db: Queryable,
  runId: number,
  windowSeconds: number,
): Promise<Array<{ t: number; n: number }>> {
  const { rows } = await db.query<{ second: Date; n: number }>(
    `SELECT second, n FROM run_throttles
     WHERE run_id = $1 AND second > now() - make_interval(secs => $2) ORDER BY second`,
    [runId, windowSeconds],
  );
  return rows.map((r) => ({ t: r.second.getTime(), n: r.n }));
}
