/** The queue's runs importing or running, with their phase, priority and pending numbers (for `/metrics`). */
import type { Queryable } from '../pool.js';
import { RUN_PHASE_SQL } from './count-runs-by-phase.js';

export interface OpenRunPending {
  id: number;
  phase: string;
  priority: string;
  pending: number;
}

export async function openRunsPending(db: Queryable, queue: string): Promise<OpenRunPending[]> {
  const { rows } = await db.query<{ id: string; phase: string; priority: string; pending: string }>(
    `SELECT id, ${RUN_PHASE_SQL} AS phase, priority, pending FROM runs
     WHERE queue = $1 AND (state = 'importing' OR (state = 'ready' AND pending > 0))`,
    [queue],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    phase: r.phase,
    priority: r.priority,
    pending: Number(r.pending),
  }));
}
