/**
 * Schedules as the dashboard shows them: each one's cron as written and in words, its zone, next tick,
 * whether it is enabled, and its recent ticks with their outcome, run, reason or error and duration.
 * The words come from `cronstrue`, which reads every form a cron field takes (lists, ranges, steps,
 * names, a seconds field) in plain English.
 */
import cronstrue from 'cronstrue';
import type { Queryable } from '../db/pool.js';
import type { Tick } from '../db/schedule-ticks.js';
import { recentTicks } from '../db/schedule-ticks.js';
import type { ScheduleQueue } from './schedules.js';
import { listSchedules, scheduleExists, scheduleNotFound } from './schedules.js';

export interface TickView {
  /** The tick's job id; `now-…` for a tick asked for with `schedule run`. */
  jobId: string;
  /** When it was due (ISO 8601). */
  at: string;
  outcome: Tick['outcome'];
  /** Whether it was asked for now rather than due by the cron. */
  manual: boolean;
  /** The run it started (`started`), or the pending run it was skipped for (`skipped`). */
  runId: number | null;
  /** Why it was skipped. */
  reason: string | null;
  /** Why it failed. */
  error: string | null;
  /** What a `started` or `done` tick's command said. */
  summary: string | null;
  /** From when it was due to its outcome, in ms; null while running. */
  durationMs: number | null;
}

export interface ScheduleView {
  name: string;
  /** The cron as written. */
  cron: string;
  /** The cron in words ("At 02:00, Monday through Friday"); the cron itself when it cannot be read. */
  cronText: string;
  tz: string | null;
  /** The next tick (ISO 8601); null while disabled. */
  next: string | null;
  enabled: boolean;
  command: string[];
  timeoutMs: number;
  /** The newest ticks, newest first. */
  ticks: TickView[];
}

/** The cron in words, 24-hour clock; the cron as written when it cannot be described. */
export function cronInWords(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return cron;
  }
}

export function tickView(t: Tick): TickView {
  return {
    jobId: t.jobId,
    at: t.tickAt.toISOString(),
    outcome: t.outcome,
    manual: t.jobId.startsWith('now-'),
    runId: t.runId,
    reason: t.outcome === 'skipped' ? t.message : null,
    error: t.outcome === 'failed' ? t.message : null,
    summary: t.outcome === 'started' || t.outcome === 'done' ? t.message : null,
    durationMs: t.outcome === 'running' ? null : Math.max(0, t.recordedAt.getTime() - t.tickAt.getTime()),
  };
}

/** Every schedule of the queue, by name, with its newest `ticks` ticks. */
export async function scheduleViews(
  queue: ScheduleQueue,
  db: Queryable,
  queueName: string,
  ticks = 10,
): Promise<ScheduleView[]> {
  const schedules = await listSchedules(queue, db, queueName);
  const recent = await recentTicks(db, {
    queue: queueName,
    schedules: schedules.map((s) => s.name),
    limit: ticks,
  });
  return schedules.map((s) => ({
    name: s.name,
    cron: s.cron,
    cronText: cronInWords(s.cron),
    tz: s.tz,
    next: s.next,
    enabled: s.enabled,
    command: s.command,
    timeoutMs: s.timeoutMs,
    ticks: (recent.get(s.name) ?? []).map(tickView),
  }));
}

/** The newest `limit` ticks of one schedule; SCHEDULE_NOT_FOUND when there is no schedule of that name. */
export async function scheduleTicks(
  queue: ScheduleQueue,
  db: Queryable,
  queueName: string,
  name: string,
  limit: number,
): Promise<TickView[]> {
  if (!(await scheduleExists(queue, name))) throw scheduleNotFound(name);
  const recent = await recentTicks(db, { queue: queueName, schedules: [name], limit });
  return (recent.get(name) ?? []).map(tickView);
}
