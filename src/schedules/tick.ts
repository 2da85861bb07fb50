/**
 * One tick of a schedule, as a worker carries it out: decide under the schedule's lock whether it may
 * start (not while the schedule's previous run still has pending numbers), run the stored command with
 * `schedule:<name>` as its runs' source, and record what happened. A tick has a deadline (its
 * schedule's `timeoutMs`, default 10 minutes): past it, the command is stopped (its source connection
 * closed, its run aborted with every row read counted) and the tick recorded as failed with the reason.
 * Testable without BullMQ.
 */
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { beginTick, finishTick } from '../db/schedule-ticks.js';
import { formatDuration } from '../duration.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_TICK_TIMEOUT_MS, scheduleSource } from './schedules.js';
import type { ScheduleJobData } from './schedules.js';
import { parseStoredCommand, runStoredCommand } from './stored-command.js';

export interface TickDeps {
  pool: Pool;
  log: Logger;
  config: Pick<Config, 'databaseUrl' | 'queueName'>;
  /** Whether the job `jobId` of the schedules' queue is being carried out by a live worker. */
  isActive(jobId: string): Promise<boolean>;
  /**
   * How long a tick told to stop at its deadline may take to stop (abort its run) before it is
   * recorded as failed without waiting further. Default `TICK_STOP_GRACE_MS`.
   */
  stopGraceMs?: number | undefined;
}

/** How long a tick past its deadline is given to stop. */
export const TICK_STOP_GRACE_MS = 30_000;

/** The parts of a BullMQ job a tick needs. */
export interface TickJob {
  id?: string | undefined;
  data: ScheduleJobData;
  timestamp: number;
  repeatJobKey?: string | undefined;
  opts: { prevMillis?: number | undefined };
}

export type TickResult =
  | { outcome: 'started' | 'done'; runId: number | null; summary: string }
  | { outcome: 'skipped'; runId: number | null; reason: string }
  | { outcome: 'replay' };

export async function runTick(deps: TickDeps, job: TickJob): Promise<TickResult> {
  // A cron tick's schedule is its job scheduler; a tick asked for now (`schedule run`) names it.
  const name = job.repeatJobKey ?? job.data.schedule;
  if (name === undefined || job.id === undefined) throw new Error('a schedule tick without its schedule');
  const jobId = job.id;
  const source = scheduleSource(name);
  const log = deps.log.child({ schedule: name, tick: jobId });
  const tickAt = new Date(job.opts.prevMillis ?? job.timestamp);
  const queue = deps.config.queueName;
  const decision = await beginTick(deps.pool, {
    queue,
    schedule: name,
    source,
    jobId,
    tickAt,
    isActive: deps.isActive,
  });
  if (decision.kind === 'replay') return { outcome: 'replay' };
  if (decision.kind === 'skip') {
    log.warn({ run: decision.runId }, `tick skipped: ${decision.reason}`);
    return { outcome: 'skipped', runId: decision.runId, reason: decision.reason };
  }
  const timeoutMs = job.data.timeoutMs ?? DEFAULT_TICK_TIMEOUT_MS;
  const deadline = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  // A command that does not stop when told is not awaited beyond a grace period.
  const overran = new Promise<never>((_, reject) => {
    deadline.signal.addEventListener(
      'abort',
      () =>
        (graceTimer = setTimeout(
          () => reject(deadline.signal.reason),
          deps.stopGraceMs ?? TICK_STOP_GRACE_MS,
        )),
      { once: true },
    );
  });
  overran.catch(() => undefined);
  const timer = setTimeout(() => {
    log.warn({ timeoutMs }, 'tick overran its deadline: stopping it');
    deadline.abort(
      new AppError('DEADLINE_EXCEEDED', `the tick overran its deadline of ${formatDuration(timeoutMs)}`),
    );
  }, timeoutMs);
  try {
    const command = parseStoredCommand(job.data.command);
    const result = await Promise.race([runStoredCommand(deps, command, source, deadline.signal), overran]);
    const outcome = result.runId === null ? 'done' : 'started';
    await finishTick(deps.pool, queue, jobId, outcome, result.runId, result.summary);
    log.info({ run: result.runId }, `tick: ${result.summary}`);
    return { outcome, runId: result.runId, summary: result.summary };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const runId = err instanceof AppError ? (err.runId ?? null) : null;
    await finishTick(deps.pool, queue, jobId, 'failed', runId, message).catch((e: unknown) =>
      log.error({ err: e }, 'could not record the failed tick'),
    );
    log.error({ code: (err as { code?: string }).code, message, run: runId }, 'scheduled command failed');
    throw err;
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
  }
}
