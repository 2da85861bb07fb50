/**
 * The ledger of schedule ticks: what each tick of a schedule did (started a run, was skipped because
 * the schedule's previous run still had pending numbers, failed, or ran a command with no run), one
 * row per tick, for `schedule list` and for deciding whether the next tick may start a run.
 */
import type { Pool, Queryable } from './pool.js';
import type { TickOutcome } from './sql/latest-ticks.js';
import { withTransaction } from './pool.js';
import { finishTick as finishTickSql } from './sql/finish-tick.js';
import { insertTick } from './sql/insert-tick.js';
import { lockSchedule } from './sql/lock-schedule.js';
import { readTickState } from './sql/read-tick-state.js';

export type { Tick, TickOutcome } from './sql/latest-ticks.js';
export { latestTicks } from './sql/latest-ticks.js';
export { recentTicks } from './sql/recent-ticks.js';

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
    await lockSchedule(client, t.source);
    const state = await readTickState(client, t);
    if (state.seen) return { kind: 'replay' } as const;
    let skip: { runId: number | null; reason: string } | undefined;
    const last = state.lastRun;
    if (last && (last.state === 'importing' || (last.state === 'ready' && last.pending > 0))) {
      skip = {
        runId: last.id,
        reason:
          last.state === 'importing'
            ? `run ${last.id} is still importing`
            : `run ${last.id} still has ${last.pending} pending numbers`,
      };
    }
    if (!skip && state.runningJobId !== undefined && (await t.isActive(state.runningJobId))) {
      skip = { runId: null, reason: 'the previous tick is still reading its source' };
    }
    await insertTick(client, {
      queue: t.queue,
      schedule: t.schedule,
      jobId: t.jobId,
      tickAt: t.tickAt,
      outcome: skip ? 'skipped' : 'running',
      runId: skip?.runId ?? null,
      message: skip?.reason ?? null,
    });
    return skip ? ({ kind: 'skip', ...skip } as const) : ({ kind: 'run' } as const);
  });
}

/** Records how a `running` tick ended. */
export function finishTick(
  db: Queryable,
  queue: string,
  jobId: string,
  outcome: Exclude<TickOutcome, 'running' | 'skipped'>,
  runId: number | null,
  message: string | null,
): Promise<void> {
  return finishTickSql(db, { queue, jobId, outcome, runId, message });
}
