/** Locks a run of the queue for a change of state (FOR UPDATE) and reads what decides it; undefined when the queue has no such run. */
import type { Queryable } from '../pool.js';
import type { RunState } from './read-runs.js';

export interface LockedRun {
  state: RunState;
  pending: number;
}

export async function lockRun(
  db: Queryable,
  p: { runId: number; queue: string },
): Promise<LockedRun | undefined> {
  const { rows } = await db.query<{ state: RunState; pending: string }>(
    'SELECT state, pending FROM runs WHERE id = $1 AND queue = $2 FOR UPDATE',
    [p.runId, p.queue],
  );
  const r = rows[0];
  return r ? { state: r.state, pending: Number(r.pending) } : undefined;
}
