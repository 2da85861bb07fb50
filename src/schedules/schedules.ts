/**
 * Schedules are BullMQ job schedulers on a queue of their own (`<queue>-schedules`): BullMQ keeps each
 * schedule's cron and command in Redis and adds one job per tick, with a job id made of the schedule's
 * name and the tick's time, so however many workers take jobs from that queue, each tick runs once.
 */
import { bullConnection } from '../queue/bull-connection.js';
import { queuePrefix } from '../queue/queue.js';
import { CronExpressionParser } from 'cron-parser';
import { Queue } from 'bullmq';
import type { RedisClient } from '../queue/redis-script.js';
import type { Queryable } from '../db/pool.js';
import type { Tick } from '../db/schedule-ticks.js';
import { latestTicks } from '../db/schedule-ticks.js';
import { AppError } from '../errors.js';
import type { RunStatus } from '../runs/status.js';
import { runStatus } from '../runs/status.js';

/** A tick's deadline when its schedule names none (`schedule add --timeout`). */
export const DEFAULT_TICK_TIMEOUT_MS = 10 * 60_000;

/** What a tick's job carries: the stored command's arguments. Never a secret (checked at `schedule add`). */
export interface ScheduleJobData {
  command: string[];
  /** The tick's deadline in ms. Default: `DEFAULT_TICK_TIMEOUT_MS` (10 minutes). */
  timeoutMs?: number | undefined;
}

export type ScheduleQueue = Queue<ScheduleJobData>;

/** The schedules' queue of the enrichment queue `queueName`. */
export function scheduleQueueName(queueName: string): string {
  return `${queueName}-schedules`;
}

/** BullMQ's options for the schedules' queue: on a cluster, under the enrichment queue's hash tag. */
export function scheduleQueueOptions(queueName: string, connection: RedisClient) {
  return { connection: bullConnection(connection), prefix: queuePrefix(connection, queueName) };
}

export function createScheduleQueue(queueName: string, connection: RedisClient): ScheduleQueue {
  return new Queue<ScheduleJobData>(
    scheduleQueueName(queueName),
    scheduleQueueOptions(queueName, connection),
  );
}

/** The run `source` of the runs a schedule starts. */
export function scheduleSource(name: string): string {
  return `schedule:${name}`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkScheduleName(name: string): void {
  if (!NAME.test(name)) {
    throw new AppError(
      'USAGE',
      `schedule name ${JSON.stringify(name)}: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

/**
 * The first tick of `cron` (5 fields, or 6 with seconds first, as cron-parser reads them) after `from`
 * in time zone `tz`; `AppError('USAGE')` naming the flag when either is not valid.
 */
export function nextTick(cron: string, tz?: string, from = new Date()): Date {
  if (tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      throw new AppError('USAGE', `--tz ${JSON.stringify(tz)} is not a time zone (e.g. Europe/Berlin, UTC)`);
    }
  }
  const fields = cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) {
    throw new AppError(
      'USAGE',
      `--cron ${JSON.stringify(cron)}: write 5 fields (minute hour day month weekday) or 6 with seconds first`,
    );
  }
  try {
    return CronExpressionParser.parse(cron, { currentDate: from, ...(tz ? { tz } : {}) })
      .next()
      .toDate();
  } catch (err) {
    throw new AppError('USAGE', `--cron ${JSON.stringify(cron)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * This machine's time zone as an IANA name (`Europe/Berlin`; `UTC` where none is set), the zone a
 * schedule added without `--tz` is stored with.
 */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export interface ScheduleSpec {
  name: string;
  cron: string;
  tz?: string | undefined;
  /** The stored command's arguments, checked by the caller. */
  command: string[];
  /** The tick's deadline in ms. Default: 10 minutes. */
  timeoutMs?: number | undefined;
}

/** Adds the schedule, or replaces the one of that name; returns its next tick. */
export async function upsertSchedule(queue: ScheduleQueue, spec: ScheduleSpec): Promise<Date> {
  checkScheduleName(spec.name);
  const next = nextTick(spec.cron, spec.tz);
  await queue.upsertJobScheduler(
    spec.name,
    { pattern: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) },
    {
      name: 'tick',
      data: { command: spec.command, ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}) },
      // A tick is carried out once: its outcome is in PostgreSQL, the next tick is the retry.
      opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    },
  );
  return next;
}

/** Removes a schedule; false when there is none of that name. */
export async function removeSchedule(queue: ScheduleQueue, name: string): Promise<boolean> {
  return queue.removeJobScheduler(name);
}

export interface ScheduleInfo {
  name: string;
  cron: string;
  tz: string | null;
  command: string[];
  /** The tick's deadline in ms (the default, 10 minutes, when the schedule names none). */
  timeoutMs: number;
  /** The next tick (ISO 8601), null when BullMQ has none. */
  next: string | null;
  /** The newest tick: what it did. */
  lastTick: { at: string; outcome: Tick['outcome']; runId: number | null; message: string | null } | null;
  /** The run of the newest tick that started one, with its accounting. */
  lastRun: RunStatus | null;
  /** Ticks skipped so far because the previous run was still pending. */
  skippedTicks: number;
}

/** Every schedule of the enrichment queue `queueName`, by name, with its next tick and what its latest ticks did. */
export async function listSchedules(
  queue: ScheduleQueue,
  db: Queryable,
  queueName: string,
): Promise<ScheduleInfo[]> {
  const schedulers = await queue.getJobSchedulers(0, -1, true);
  const names = schedulers.map((s) => s.key);
  const ticks = await latestTicks(db, queueName, names);
  const result: ScheduleInfo[] = [];
  for (const s of schedulers) {
    const t = ticks.get(s.key);
    const runId = t?.lastRun?.runId ?? null;
    const data = s.template?.data as ScheduleJobData | undefined;
    const lastRun = runId !== null ? await runStatus(db, runId).catch(() => null) : null;
    result.push({
      name: s.key,
      cron: s.pattern ?? '',
      tz: s.tz ?? null,
      command: data?.command ?? [],
      timeoutMs: data?.timeoutMs ?? DEFAULT_TICK_TIMEOUT_MS,
      next: s.next !== undefined && s.next !== null ? new Date(s.next).toISOString() : null,
      lastTick: t
        ? {
            at: t.last.tickAt.toISOString(),
            outcome: t.last.outcome,
            runId: t.last.runId,
            message: t.last.message,
          }
        : null,
      lastRun,
      skippedTicks: t?.skipped ?? 0,
    });
  }
  return result.sort((a, b) => a.name.localeCompare(b.name));
}
