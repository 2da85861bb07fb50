/**
 * The queue admin's actions, one code path for the CLI and the dashboard: cancel a run, change its
 * priority, pause and resume the queue, retry a run's retryable failed numbers, enable, disable or run
 * a schedule now. Each action that is carried out is recorded in `audit_log` (when, what, on which run
 * or schedule, from which address, through which way in); one refused (no such run, a finished run) is
 * not, since nothing changed.
 */
import { hostname, userInfo } from 'node:os';
import type { Config } from '../config.js';
import type { Pool, Queryable } from '../db/pool.js';
import { getAlert, raiseAlertIfNone } from '../db/ledger.js';
import type { RunPriority } from '../db/runs.js';
import { getRun } from '../db/runs.js';
import type { AuditAction, AuditVia } from '../db/sql/insert-audit.js';
import { insertAudit } from '../db/sql/insert-audit.js';
import { failureCodes } from '../db/sql/failure-codes.js';
import { retryableFailures } from '../db/sql/retryable-failures.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { feedOnce } from '../queue/feeder.js';
import type { EnrichQueue } from '../queue/queue.js';
import type { QueueStore } from '../queue/queue-store.js';
import { isTransientFailure } from '../sources/refresh-source.js';
import type { ScheduleQueue, ScheduleSwitch, TickRequested } from '../schedules/schedules.js';
import { disableSchedule, enableSchedule, runScheduleNow } from '../schedules/schedules.js';
import type { CancelResult } from './cancel.js';
import { cancelRun } from './cancel.js';
import type { SourceRow } from './import-run.js';
import { importRows } from './import-run.js';
import type { PriorityResult } from './priority.js';
import { changeRunPriority } from './priority.js';
import type { ResumeResult } from './resume.js';
import { resumeQueue } from './resume.js';

export type { AuditEntry } from '../db/sql/read-audit.js';
export { readAudit } from '../db/sql/read-audit.js';

/** Who carried an action out: through the CLI or the dashboard, and from where. */
export interface Actor {
  via: AuditVia;
  /** The dashboard client's address, or the CLI's user@host. */
  address: string;
}

/** The CLI's actor: the user running it, on this machine. */
export function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No entry for this uid (a container's arbitrary user): the host still says where.
  }
  return { via: 'cli', address: `${user}@${hostname()}` };
}

interface Target {
  queue: string;
  action: AuditAction;
  runId?: number | undefined;
  schedule?: string | undefined;
  details: object;
}

async function record(db: Queryable, actor: Actor, t: Target): Promise<void> {
  await insertAudit(db, {
    queue: t.queue,
    action: t.action,
    runId: t.runId ?? null,
    schedule: t.schedule ?? null,
    details: { ...t.details },
    actor: actor.address,
    via: actor.via,
  });
}

function runNotFound(runId: number, queue: string): AppError {
  return new AppError(
    'RUN_NOT_FOUND',
    `run ${runId} does not exist on queue ${queue} (see "cams-enrich status" for its runs)`,
  );
}

/** Cancels a run of the queue (see `cancelRun`); cancelling a cancelled run does nothing and says so. */
export async function cancelAction(
  deps: { pool: Pool; queue: EnrichQueue },
  actor: Actor,
  runId: number,
): Promise<CancelResult> {
  const result = await cancelRun(deps, runId);
  await record(deps.pool, actor, { queue: deps.queue.name, action: 'cancel', runId, details: result });
  return result;
}

export interface PriorityActionResult extends PriorityResult {
  /** The priority it had. */
  previous: RunPriority;
}

/** Changes a run's priority (see `changeRunPriority`): from now on, and for its jobs already in Redis. */
export async function priorityAction(
  deps: { pool: Pool; queue: EnrichQueue },
  actor: Actor,
  runId: number,
  priority: RunPriority,
): Promise<PriorityActionResult> {
  const { pool, queue } = deps;
  const run = await getRun(pool, runId);
  if (!run || run.queue !== queue.name) throw runNotFound(runId, queue.name);
  const changed = await changeRunPriority(deps, runId, priority);
  const result = { ...changed, previous: run.priority };
  await record(pool, actor, { queue: queue.name, action: 'priority', runId, details: result });
  return result;
}

/** The alert code of a queue paused by an admin (`pause`). */
export const ADMIN_PAUSE = 'ADMIN_PAUSE';

export interface PauseResult {
  queue: string;
  /** False when it was paused already. */
  paused: boolean;
  reason: string;
  /** The alert the queue shows (`status`, the dashboard): this pause's, or an account alert raised before it. */
  alert: { code: string; message: string } | null;
}

/**
 * Pauses the queue the way an account alert does: the reason is recorded as the queue's alert (an
 * alert already raised stays the one shown) and the queue paused; workers finish the calls in flight
 * and take no new job until `resume`.
 */
export async function pauseAction(
  deps: { pool: Pool; queue: EnrichQueue },
  actor: Actor,
  reason: string | undefined,
): Promise<PauseResult> {
  const { pool, queue } = deps;
  const why = reason?.trim() || 'paused by an admin';
  if (why.length > 500) throw new AppError('USAGE', 'the reason is limited to 500 characters');
  const wasPaused = await queue.isPaused();
  await raiseAlertIfNone(pool, queue.name, ADMIN_PAUSE, `${why} (${actor.address}, ${actor.via})`);
  await queue.pause();
  const alert = await getAlert(pool, queue.name);
  const result: PauseResult = {
    queue: queue.name,
    paused: !wasPaused,
    reason: why,
    alert: alert ? { code: alert.code, message: alert.message } : null,
  };
  await record(pool, actor, { queue: queue.name, action: 'pause', details: result });
  return result;
}

/** Resumes the queue (see `resumeQueue`): what it lost put back, its alert cleared, its first window fed. */
export async function resumeAction(
  config: Config,
  deps: { pool: Pool; queue: EnrichQueue; store: QueueStore; log: Logger },
  actor: Actor,
): Promise<ResumeResult> {
  const result = await resumeQueue(config, deps);
  await record(deps.pool, actor, { queue: deps.queue.name, action: 'resume', details: result });
  return result;
}

export interface RetryFailedResult {
  /** The run whose failed numbers are tried again. */
  from: number;
  /** The new run; null when none of its failures is worth trying again (no run is made). */
  run: number | null;
  /** Numbers in the new run. */
  numbers: number;
  /** The error codes tried again. */
  codes: string[];
  /** Jobs fed to Redis for it at once (the workers' feeders do the rest). */
  fed: number;
}

/** Source rows of a retry: the run's failed numbers with a code in `codes`, read page by page. */
async function* failedRows(pool: Pool, runId: number, codes: string[]): AsyncIterable<SourceRow> {
  let after: { space: string; phone: string } | null = null;
  let line = 0;
  for (;;) {
    const page = await retryableFailures(pool, { runId, codes, after, limit: 1000 });
    for (const item of page) yield { line: ++line, phone: item.phone, space: item.space };
    const last = page.at(-1);
    if (!last || page.length < 1000) return;
    after = last;
  }
}

/**
 * A new run of a run's failed numbers whose last failure was transient (as `refresh` picks them: not a
 * refusal of the number, not an aborted import), each in its own space, at the run's priority, with
 * source `retry-failed:<run>`. A number fetched since the run started is skipped rather than fetched
 * again. No run is made when none is worth trying.
 */
export async function retryFailedAction(
  config: Config,
  deps: { pool: Pool; queue: EnrichQueue; log: Logger },
  actor: Actor,
  runId: number,
): Promise<RetryFailedResult> {
  const { pool, queue, log } = deps;
  const run = await getRun(pool, runId);
  if (!run || run.queue !== queue.name) throw runNotFound(runId, queue.name);
  const codes = (await failureCodes(pool, runId)).filter(isTransientFailure).sort();
  let made: { runId: number; accepted: number } | null = null;
  if (codes.length > 0) {
    const imported = await importRows(pool, log, {
      queue: queue.name,
      source: `retry-failed:${runId}`,
      rows: failedRows(pool, runId, codes),
      spaceColumnLabel: 'cust_space_id',
      maxAgeMs: Math.max(0, Date.now() - run.createdAt.getTime()),
      priority: run.priority,
    });
    made = { runId: imported.runId, accepted: imported.rows };
  }
  let fed = 0;
  if (made) {
    try {
      fed = await feedOnce(config, pool, queue, log);
    } catch (err) {
      if (isAppError(err) && err.exitCode === 2) throw err;
      // The run is safe in the ledger: a running worker's feeder, or `resume`, feeds it.
      log.warn(
        { run: made.runId, err: { message: (err as Error).message } },
        'the new run could not be fed yet',
      );
    }
  }
  const result: RetryFailedResult = {
    from: runId,
    run: made?.runId ?? null,
    numbers: made?.accepted ?? 0,
    codes,
    fed,
  };
  await record(pool, actor, { queue: queue.name, action: 'retry-failed', runId, details: result });
  return result;
}

/** What a schedule's action needs: the ledger (for the audit), the schedules' queue and the queue's name. */
export interface ScheduleDeps {
  pool: Pool;
  schedules: ScheduleQueue;
  queueName: string;
}

/** Carries `act` out on the schedule `name` and records it as `action`. */
async function scheduleAction<T extends object>(
  deps: ScheduleDeps,
  actor: Actor,
  name: string,
  action: AuditAction,
  act: (schedules: ScheduleQueue, name: string) => Promise<T>,
): Promise<T> {
  const result = await act(deps.schedules, name);
  await record(deps.pool, actor, { queue: deps.queueName, action, schedule: name, details: result });
  return result;
}

/** Enables a disabled schedule (see `enableSchedule`). */
export function enableScheduleAction(
  deps: ScheduleDeps,
  actor: Actor,
  name: string,
): Promise<ScheduleSwitch> {
  return scheduleAction(deps, actor, name, 'schedule-enable', enableSchedule);
}

/** Disables a schedule (see `disableSchedule`). */
export function disableScheduleAction(
  deps: ScheduleDeps,
  actor: Actor,
  name: string,
): Promise<ScheduleSwitch> {
  return scheduleAction(deps, actor, name, 'schedule-disable', disableSchedule);
}

/** Asks for a tick of the schedule now (see `runScheduleNow`). */
export function runScheduleAction(deps: ScheduleDeps, actor: Actor, name: string): Promise<TickRequested> {
  return scheduleAction(deps, actor, name, 'schedule-run', runScheduleNow);
}
