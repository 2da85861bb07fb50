/**
 * What decides whether a schedule's tick may start its command: whether this tick was recorded already
 * (its job delivered again), the schedule's newest run, and the job of its newest tick still running.
 */
import type { Queryable } from '../pool.js';

export interface ReadTickState {
  queue: string;
  schedule: string;
  /** The schedule's runs' `source`. */
  source: string;
  jobId: string;
}

export interface TickState {
  seen: boolean;
  lastRun: { id: number; state: string; pending: number } | undefined;
  /** The job of the schedule's newest tick still `running`. */
  runningJobId: string | undefined;
}

export async function readTickState(db: Queryable, p: ReadTickState): Promise<TickState> {
  const { rows } = await db.query<{
    seen: boolean;
    run_id: string | null;
    run_state: string | null;
    run_pending: string | null;
    running_job_id: string | null;
  }>(
    `SELECT EXISTS (SELECT 1 FROM schedule_ticks WHERE queue = $1 AND job_id = $4) AS seen,
            r.id AS run_id, r.state AS run_state, r.pending AS run_pending,
            (SELECT job_id FROM schedule_ticks WHERE queue = $1 AND schedule = $2 AND outcome = 'running'
             ORDER BY id DESC LIMIT 1) AS running_job_id
     FROM (SELECT 1) one
     LEFT JOIN LATERAL (SELECT id, state, pending FROM runs WHERE queue = $1 AND source = $3
                        ORDER BY id DESC LIMIT 1) r ON true`,
    [p.queue, p.schedule, p.source, p.jobId],
  );
  const row = rows[0]!;
  return {
    seen: row.seen,
    lastRun:
      row.run_id === null
        ? undefined
        : { id: Number(row.run_id), state: row.run_state!, pending: Number(row.run_pending) },
    runningJobId: row.running_job_id ?? undefined,
  };
}
