/** Records how a `running` tick ended. */
import type { Queryable } from '../pool.js';

export interface FinishTick {
  queue: string;
  jobId: string;
  outcome: 'started' | 'failed' | 'done';
  runId: number | null;
  message: string | null;
}

export async function finishTick(db: Queryable, p: FinishTick): Promise<void> {
  await db.query(
    `UPDATE schedule_ticks SET outcome = $3, run_id = $4, message = $5, recorded_at = now()
     WHERE queue = $1 AND job_id = $2`,
    [p.queue, p.jobId, p.outcome, p.runId, p.message],
  );
}
