/** The newest tick of each schedule of a queue named, the newest that started a run, and how many were skipped. */
import type { Queryable } from '../pool.js';

export type TickOutcome = 'running' | 'started' | 'skipped' | 'failed' | 'done';

export interface Tick {
  schedule: string;
  jobId: string;
  tickAt: Date;
  outcome: TickOutcome;
  runId: number | null;
  message: string | null;
  recordedAt: Date;
}

/** A row of `schedule_ticks` as the tick statements select it. */
export interface TickRow {
  schedule: string;
  job_id: string;
  tick_at: Date;
  outcome: TickOutcome;
  run_id: string | null;
  message: string | null;
  recorded_at: Date;
}

export function toTick(r: TickRow): Tick {
  return {
    schedule: r.schedule,
    jobId: r.job_id,
    tickAt: r.tick_at,
    outcome: r.outcome,
    runId: r.run_id === null ? null : Number(r.run_id),
    message: r.message,
    recordedAt: r.recorded_at,
  };
}

/**
 * The newest tick of each schedule of `queue` named, and the newest that started a run (`lastRun`: a
 * tick still running or skipped has no run yet, so it never hides the run before it).
 */
export async function latestTicks(
  db: Queryable,
  queue: string,
  schedules: readonly string[],
): Promise<Map<string, { last: Tick; lastRun: Tick | undefined; skipped: number }>> {
  const { rows } = await db.query<TickRow & { kind: 'last' | 'run'; skipped: string }>(
    `SELECT s.schedule, t.*, 'last' AS kind,
            (SELECT count(*) FROM schedule_ticks k WHERE k.queue = $2 AND k.schedule = s.schedule AND k.outcome = 'skipped') AS skipped
     FROM unnest($1::text[]) AS s(schedule)
     CROSS JOIN LATERAL (SELECT job_id, tick_at, outcome, run_id, message, recorded_at FROM schedule_ticks
                         WHERE queue = $2 AND schedule = s.schedule ORDER BY id DESC LIMIT 1) t
     UNION ALL
     SELECT s.schedule, t.*, 'run' AS kind, '0' AS skipped
     FROM unnest($1::text[]) AS s(schedule)
     CROSS JOIN LATERAL (SELECT job_id, tick_at, outcome, run_id, message, recorded_at FROM schedule_ticks
                         WHERE queue = $2 AND schedule = s.schedule AND run_id IS NOT NULL
                         ORDER BY id DESC LIMIT 1) t`,
    [schedules, queue],
  );
  const result = new Map<string, { last: Tick; lastRun: Tick | undefined; skipped: number }>();
  for (const r of rows.filter((x) => x.kind === 'last')) {
    result.set(r.schedule, { last: toTick(r), lastRun: undefined, skipped: Number(r.skipped) });
  }
  for (const r of rows.filter((x) => x.kind === 'run')) {
    const entry = result.get(r.schedule);
    if (entry) entry.lastRun = toTick(r);
  }
  return result;
}
