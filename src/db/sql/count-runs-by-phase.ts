/**
 * The queue's runs by phase, for `/metrics`. A run's phase is its state, except a ready run, which is
 * `running` until nothing is pending, then `finished` (as `status` says it).
 */
import type { Queryable } from '../pool.js';

export const RUN_PHASE_SQL = `CASE WHEN state <> 'ready' THEN state WHEN pending = 0 THEN 'finished' ELSE 'running' END`;

export async function countRunsByPhase(db: Queryable, queue: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ phase: string; n: string }>(
    `SELECT ${RUN_PHASE_SQL} AS phase, count(*) AS n FROM runs WHERE queue = $1 GROUP BY 1`,
    [queue],
  );
  return Object.fromEntries(rows.map((r) => [r.phase, Number(r.n)]));
}
