/**
 * Schedules are BullMQ job schedulers on a queue of their own (`<queue>-schedules`): BullMQ keeps each
 * schedule's cron and command in Redis and adds one job per tick, with a job id made of the schedule's
 * name and the tick's time, so however many workers take jobs from that queue, each tick runs once.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import type { DisabledSchedules, QueueStore, StoreQueue } from '../queue/queue-store.js';
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
  /** The schedule of a tick asked for now (`schedule run`); a cron tick's is its job scheduler's key. */
  schedule?: string | undefined;
}

/** The schedules' BullMQ queue, with where its store keeps disabled schedules. */
export type ScheduleQueue = StoreQueue<ScheduleJobData> & { readonly disabled: DisabledSchedules };

/** The schedules' queue of the enrichment queue `queueName`. */
export function scheduleQueueName(queueName: string): string {
  return `${queueName}-schedules`;
}

/** The schedules' queue of `queueName`, on its store (on a Redis Cluster, under the enrichment queue's hash tag). */
export function createScheduleQueue(queueName: string, store: QueueStore): ScheduleQueue {
  const queue = store.queue<ScheduleJobData>(scheduleQueueName(queueName), queueName);
  return Object.assign(queue, { disabled: store.disabledSchedules(queue) });
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

/**
 * Disabled schedules are kept beside the schedules' queue, in a hash of the queue's keys (so under
 * its hash tag on a cluster): name → the schedule's spec as JSON. A disabled schedule has no job
 * scheduler, so no tick is made until it is enabled again.
 */
const storedSpec = z.object({
  cron: z.string(),
  tz: z.string().optional(),
  command: z.array(z.string()),
  timeoutMs: z.number().optional(),
});

async function readDisabled(queue: ScheduleQueue): Promise<Map<string, ScheduleSpec>> {
  const all = await queue.disabled.all();
  const specs = new Map<string, ScheduleSpec>();
  for (const [name, json] of Object.entries(all ?? {})) {
    specs.set(name, { name, ...storedSpec.parse(JSON.parse(json) as unknown) });
  }
  return specs;
}

async function readDisabledOne(queue: ScheduleQueue, name: string): Promise<ScheduleSpec | undefined> {
  const json = await queue.disabled.get(name);
  return json === undefined ? undefined : { name, ...storedSpec.parse(JSON.parse(json) as unknown) };
}

async function forgetDisabled(queue: ScheduleQueue, name: string): Promise<boolean> {
  return queue.disabled.remove(name);
}

/** The spec of the enabled schedule `name`, from its job scheduler; undefined when it has none. */
async function enabledSpec(queue: ScheduleQueue, name: string): Promise<ScheduleSpec | undefined> {
  const s = await queue.getJobScheduler(name);
  if (!s) return undefined;
  const data = s.template?.data as ScheduleJobData | undefined;
  return {
    name,
    cron: s.pattern ?? '',
    ...(s.tz ? { tz: s.tz } : {}),
    command: data?.command ?? [],
    ...(data?.timeoutMs !== undefined ? { timeoutMs: data.timeoutMs } : {}),
  };
}

/** Whether a schedule of that name exists, enabled or disabled. */
export async function scheduleExists(queue: ScheduleQueue, name: string): Promise<boolean> {
  return (
    (await queue.getJobScheduler(name)) !== undefined || (await readDisabledOne(queue, name)) !== undefined
  );
}

export function scheduleNotFound(name: string): AppError {
  return new AppError(
    'SCHEDULE_NOT_FOUND',
    `no schedule named ${JSON.stringify(name)} (see "cams-enrich schedule list")`,
  );
}

/** Adds the schedule, or replaces the one of that name (enabled, whether it was disabled or not); returns its next tick. */
export async function upsertSchedule(queue: ScheduleQueue, spec: ScheduleSpec): Promise<Date> {
  checkScheduleName(spec.name);
  const next = nextTick(spec.cron, spec.tz);
  await addJobScheduler(queue, spec);
  await forgetDisabled(queue, spec.name);
  return next;
}

async function addJobScheduler(queue: ScheduleQueue, spec: ScheduleSpec): Promise<void> {
  await queue.upsertJobScheduler(
    spec.name,
    { pattern: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) },
    {
      name: 'tick',
      data: { command: spec.command, ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}) },
      // A tick is carried out once: its outcome is in PostgreSQL, the next tick is the retry.
      opts: TICK_JOB_OPTIONS,
    },
  );
}

/** A tick is carried out once: its outcome is in PostgreSQL, the next tick is the retry. */
const TICK_JOB_OPTIONS = { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

/** Removes a schedule, enabled or disabled; false when there is none of that name. */
export async function removeSchedule(queue: ScheduleQueue, name: string): Promise<boolean> {
  const removed = await queue.removeJobScheduler(name);
  return (await forgetDisabled(queue, name)) || removed;
}

export interface ScheduleSwitch {
  name: string;
  enabled: boolean;
  /** False when the schedule was already so (nothing done). */
  changed: boolean;
  /** The next tick (ISO 8601) of an enabled schedule; null when disabled. */
  next: string | null;
}

/**
 * Disables a schedule: its spec is kept aside and its job scheduler removed, so no tick is made (a tick
 * already being carried out finishes). Disabling a disabled schedule does nothing; SCHEDULE_NOT_FOUND
 * when there is no schedule of that name.
 */
export async function disableSchedule(queue: ScheduleQueue, name: string): Promise<ScheduleSwitch> {
  const spec = await enabledSpec(queue, name);
  if (!spec) {
    if (await readDisabledOne(queue, name)) return { name, enabled: false, changed: false, next: null };
    throw scheduleNotFound(name);
  }
  // Kept aside first: a stop between the two steps leaves the schedule enabled, never lost.
  const { name: _, ...stored } = spec;
  await queue.disabled.set(name, JSON.stringify(stored));
  await queue.removeJobScheduler(name);
  return { name, enabled: false, changed: true, next: null };
}

/**
 * Enables a disabled schedule: its job scheduler is added again, its next tick counted from now (the
 * ticks it missed are not made up). Enabling an enabled schedule does nothing.
 */
export async function enableSchedule(queue: ScheduleQueue, name: string): Promise<ScheduleSwitch> {
  const enabled = await queue.getJobScheduler(name);
  const spec = await readDisabledOne(queue, name);
  if (enabled) {
    if (spec) await forgetDisabled(queue, name);
    const next = enabled.next !== undefined && enabled.next !== null ? new Date(enabled.next) : null;
    return { name, enabled: true, changed: false, next: next?.toISOString() ?? null };
  }
  if (!spec) throw scheduleNotFound(name);
  await addJobScheduler(queue, spec);
  await forgetDisabled(queue, name);
  return { name, enabled: true, changed: true, next: nextTick(spec.cron, spec.tz).toISOString() };
}

export interface TickRequested {
  name: string;
  /** The tick's job id in the schedules' queue (`schedule_ticks.job_id` once a worker takes it). */
  jobId: string;
}

/**
 * Asks for a tick of the schedule now, enabled or disabled: a job on the schedules' queue that the next
 * free worker carries out like a cron tick (skipped while the schedule's previous run is pending).
 */
export async function runScheduleNow(
  queue: ScheduleQueue,
  name: string,
  now = new Date(),
): Promise<TickRequested> {
  const spec = (await enabledSpec(queue, name)) ?? (await readDisabledOne(queue, name));
  if (!spec) throw scheduleNotFound(name);
  const jobId = `now-${name}-${now.getTime()}`;
  await queue.add(
    'tick',
    {
      command: spec.command,
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
      schedule: name,
    },
    { ...TICK_JOB_OPTIONS, jobId, timestamp: now.getTime() },
  );
  return { name, jobId };
}

export interface ScheduleInfo {
  name: string;
  /** False while disabled (`schedule disable`): no tick is made. */
  enabled: boolean;
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

/** Every schedule of the enrichment queue `queueName`, enabled or not, by name, with its next tick and what its latest ticks did. */
export async function listSchedules(
  queue: ScheduleQueue,
  db: Queryable,
  queueName: string,
): Promise<ScheduleInfo[]> {
  const schedulers = await queue.getJobSchedulers(0, -1, true);
  const disabled = await readDisabled(queue);
  const entries = [
    ...schedulers.map((s) => {
      const data = s.template?.data as ScheduleJobData | undefined;
      return {
        name: s.key,
        enabled: true,
        cron: s.pattern ?? '',
        tz: s.tz ?? null,
        command: data?.command ?? [],
        timeoutMs: data?.timeoutMs,
        next: s.next !== undefined && s.next !== null ? new Date(s.next).toISOString() : null,
      };
    }),
    // One found both ways was stopped between the two steps of disabling it: it is enabled.
    ...[...disabled.values()]
      .filter((d) => !schedulers.some((s) => s.key === d.name))
      .map((d) => ({
        name: d.name,
        enabled: false,
        cron: d.cron,
        tz: d.tz ?? null,
        command: d.command,
        timeoutMs: d.timeoutMs,
        next: null,
      })),
  ];
  const ticks = await latestTicks(
    db,
    queueName,
    entries.map((e) => e.name),
  );
  const result: ScheduleInfo[] = [];
  for (const e of entries) {
    const t = ticks.get(e.name);
    const runId = t?.lastRun?.runId ?? null;
    const lastRun = runId !== null ? await runStatus(db, runId).catch(() => null) : null;
    result.push({
      ...e,
      timeoutMs: e.timeoutMs ?? DEFAULT_TICK_TIMEOUT_MS,
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
