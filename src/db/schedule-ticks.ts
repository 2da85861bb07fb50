/**
 * The ledger of schedule ticks: what each tick of a schedule did (started a run, was skipped because
 * the schedule's previous run still had pending numbers, failed, or ran a command with no run), one
 * row per tick, for `schedule list` and for deciding whether the next tick may start a run.
 */
import type { Pool, Queryable } from './pool.js';
import { withTransaction } from './pool.js';

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

export type TickDecision =
  /** The tick is recorded as `running`: carry out its command. */
  | { kind: 'run' }
  /** The schedule's previous run (or previous tick, still starting) is not finished: recorded as skipped. */
  | { kind: 'skip'; runId: number | null; reason: string }
  /** This tick was handled already (its job was delivered again): do nothing. */
  | { kind: 'replay' };

export interface BeginTick {
  /** The enrichment queue the schedule belongs to (the runs' `queue`). */
  queue: string;
  schedule: string;
  /** The run `source` of the schedule's runs, `schedule:<name>`. */
  source: string;
  jobId: string;
  tickAt: Date;
  /** Whether the job of an earlier tick is still being carried out by a live worker. */
  isActive(jobId: string): Promise<boolean>;
}

/**
 * Decides, under a lock of the schedule, whether a tick starts its command, and records the decision.
 * A tick is skipped while the schedule's newest run is importing or has pending numbers, or while an
 * earlier tick is still running (its run not created yet) in a live worker.
 */
export async function beginTick(pool: Pool, t: BeginTick): Promise<TickDecision> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cams-enrich:${t.source}`]);
    const seen = await client.query('SELECT 1 FROM schedule_ticks WHERE queue = $1 AND job_id = $2', [
      t.queue,
      t.jobId,
    ]);
    if (seen.rowCount) return { kind: 'replay' } as const;
    let skip: { runId: number | null; reason: string } | undefined;
    const { rows: runs } = await client.query<{ id: string; state: string; pending: string }>(
      `SELECT id, state, pending FROM runs WHERE queue = $1 AND source = $2 ORDER BY id DESC LIMIT 1`,
      [t.queue, t.source],
    );
    const last = runs[0];
    if (last && (last.state === 'importing' || (last.state === 'ready' && Number(last.pending) > 0))) {
      skip = {
        runId: Number(last.id),
        reason:
          last.state === 'importing'
            ? `run ${last.id} is still importing`
            : `run ${last.id} still has ${last.pending} pending numbers`,
      };
    }
    if (!skip) {
      const { rows: running } = await client.query<{ job_id: string }>(
        `SELECT job_id FROM schedule_ticks WHERE queue = $1 AND schedule = $2 AND outcome = 'running'
         ORDER BY id DESC LIMIT 1`,
        [t.queue, t.schedule],
      );
      const earlier = running[0];
      if (earlier && (await t.isActive(earlier.job_id))) {
        skip = { runId: null, reason: 'the previous tick is still reading its source' };
      }
    }
    await client.query(
      `INSERT INTO schedule_ticks (queue, schedule, job_id, tick_at, outcome, run_id, message)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        t.queue,
        t.schedule,
        t.jobId,
        t.tickAt,
        skip ? 'skipped' : 'running',
        skip?.runId ?? null,
        skip?.reason ?? null,
      ],
    );
    return skip ? ({ kind: 'skip', ...skip } as const) : ({ kind: 'run' } as const);
  });
}

/** Records how a `running` tick ended. */
export async function finishTick(
  db: Queryable,
  queue: string,
  jobId: string,
  outcome: Exclude<TickOutcome, 'running' | 'skipped'>,
  runId: number | null,
  message: string | null,
): Promise<void> {
  await db.query(
    `UPDATE schedule_ticks SET outcome = $3, run_id = $4, message = $5, recorded_at = now()
     WHERE queue = $1 AND job_id = $2`,
    [queue, jobId, outcome, runId, message],
  );
}

interface TickRow {
  schedule: string;
  job_id: string;
  tick_at: Date;
  outcome: TickOutcome;
  run_id: string | null;
  message: string | null;
  recorded_at: Date;
}

function toTick(r: TickRow): Tick {
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

/** The newest tick of each schedule of `queue` named, and the newest that was not skipped. */
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
                         WHERE queue = $2 AND schedule = s.schedule AND outcome <> 'skipped'
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
