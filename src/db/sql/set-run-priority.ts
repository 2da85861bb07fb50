/** A run's priority changed; returns false when no run of the queue has that id. */
import type { Queryable } from '../pool.js';
import type { RunPriority } from './read-runs.js';

export interface SetRunPriority {
  runId: number;
  queue: string;
  priority: RunPriority;
}

export async function setRunPriority(db: Queryable, p: SetRunPriority): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE runs SET priority = $3 WHERE id = $1 AND queue = $2', [
    p.runId,
    p.queue,
    p.priority,
  ]);
  return (rowCount ?? 0) > 0;
}
