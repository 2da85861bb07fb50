/** Records a tick's decision: `running` (its command is being carried out) or `skipped`, with the run and reason. */
import type { Queryable } from '../pool.js';

export interface InsertTick {
  queue: string;
  schedule: string;
  jobId: string;
  tickAt: Date;
  outcome: 'running' | 'skipped';
  runId: number | null;
  message: string | null;
}

export async function insertTick(db: Queryable, p: InsertTick): Promise<void> {
  await db.query(
    `INSERT INTO schedule_ticks (queue, schedule, job_id, tick_at, outcome, run_id, message)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [p.queue, p.schedule, p.jobId, p.tickAt, p.outcome, p.runId, p.message],
  );
}
