/**
 * One tick of a schedule, as a worker carries it out: decide under the schedule's lock whether it may
 * start (not while the schedule's previous run still has pending numbers), run the stored command with
 * `schedule:<name>` as its runs' source, and record what happened. Testable without BullMQ.
 */
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { beginTick, finishTick } from '../db/schedule-ticks.js';
import type { Logger } from '../log.js';
import { scheduleSource } from './schedules.js';
import type { ScheduleJobData } from './schedules.js';
import { parseStoredCommand, runStoredCommand } from './stored-command.js';

export interface TickDeps {
  pool: Pool;
  log: Logger;
  config: Pick<Config, 'databaseUrl' | 'queueName'>;
  /** Whether the job `jobId` of the schedules' queue is being carried out by a live worker. */
  isActive(jobId: string): Promise<boolean>;
}

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
  const name = job.repeatJobKey;
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
  try {
    const command = parseStoredCommand(job.data.command);
    const result = await runStoredCommand(deps, command, source);
    const outcome = result.runId === null ? 'done' : 'started';
    await finishTick(deps.pool, queue, jobId, outcome, result.runId, result.summary);
    log.info({ run: result.runId }, `tick: ${result.summary}`);
    return { outcome, runId: result.runId, summary: result.summary };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await finishTick(deps.pool, queue, jobId, 'failed', null, message).catch((e: unknown) =>
      log.error({ err: e }, 'could not record the failed tick'),
    );
    log.error({ code: (err as { code?: string }).code, message }, 'scheduled command failed');
    throw err;
  }
}
