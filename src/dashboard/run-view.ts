/**
 * `/api/runs/:id`: what a run's page shows, as JSON: its accounting, numbers settled and calls throttled
 * per second over the last minutes, failures by code, the first rejects and the first numbers still waiting for the queue,
 * and what it was started with. Numbers (and rejected cells) appear masked only.
 */
import type { Queryable } from '../db/pool.js';
import { failuresByCode } from '../db/sql/failures-by-code.js';
import { pendingSample } from '../db/sql/pending-sample.js';
import { rejectsSample } from '../db/sql/rejects-sample.js';
import { runOptions } from '../db/sql/run-options.js';
import type { SettledSecond } from '../db/sql/run-timeline.js';
import { runTimeline } from '../db/sql/run-timeline.js';
import { runThrottles } from '../db/sql/run-throttles.js';
import { maskPhone } from '../mask.js';
import type { RunStatus } from '../runs/status.js';
import { runStatus } from '../runs/status.js';

/** Seconds of a run's timeline. */
export const TIMELINE_SECONDS = 600;
const SAMPLE = 10;

export interface RunPageView {
  /** Whether this request may use actions: only with a token. */
  canAct: boolean;
  run: RunStatus & { callsMade: number; callsSaved: number };
  failures: Array<{ code: string; count: number; examples: string[] }>;
  /** The first invalid rows, line order; `raw` masked. `invalid` of `run` counts them all. */
  rejects: Array<{ line: number; raw: string; reason: string }>;
  /** The first pending numbers not yet handed to the queue, line order, masked. */
  pendingSample: Array<{ line: number; space: string; number: string }>;
  options: {
    source: string;
    /** `csv`, `database`, `refresh`, `schedule` or the source itself. */
    startedBy: { kind: string; schedule: string | null };
    space: string | null;
    priority: string;
    maxAgeSeconds: number;
    inputPath: string | null;
    inputSha256: string | null;
    inputOptions: Record<string, unknown> | null;
  };
  /** Seconds covered by `timeline`, ending now. */
  timelineSeconds: number;
  timeline: SettledSecond[];
  /** The run's calls answered with a throttle, per second over the same time (seconds without any left out). */
  throttles: Array<{ t: number; n: number }>;
}

/** Digit runs of a rejected cell that could be a number, masked like a number. */
export function maskCell(raw: string): string {
  return raw.replace(/\+?\d[\d\s().-]{3,}\d/g, (m) => {
    const digits = m.replace(/\D/g, '');
    return digits.length >= 5 ? maskPhone(digits) : m;
  });
}

function startedBy(source: string): RunPageView['options']['startedBy'] {
  if (source.startsWith('schedule:')) return { kind: 'schedule', schedule: source.slice('schedule:'.length) };
  if (source.startsWith('csv:')) return { kind: 'csv', schedule: null };
  if (source.startsWith('db:')) return { kind: 'database', schedule: null };
  if (source === 'refresh') return { kind: 'refresh', schedule: null };
  return { kind: source, schedule: null };
}

/** Throws `RUN_NOT_FOUND` for a run that does not exist. */
export async function readRunView(db: Queryable, runId: number, canAct: boolean): Promise<RunPageView> {
  const run = await runStatus(db, runId);
  const [options, failures, rejects, pending, timeline, throttles] = await Promise.all([
    runOptions(db, runId),
    run.failed > 0 ? failuresByCode(db, [runId]) : Promise.resolve([]),
    run.invalid > 0 ? rejectsSample(db, runId, SAMPLE) : Promise.resolve([]),
    run.pending > 0 ? pendingSample(db, runId, SAMPLE) : Promise.resolve([]),
    runTimeline(db, runId, TIMELINE_SECONDS),
    runThrottles(db, runId, TIMELINE_SECONDS),
  ]);
  return {
    canAct,
    run: { ...run, callsMade: run.enriched + run.failed, callsSaved: run.skipped + run.duplicate },
    failures: failures.map((f) => ({ code: f.code, count: f.count, examples: f.examples.map(maskPhone) })),
    rejects: rejects.map((r) => ({ line: r.line, raw: maskCell(r.raw), reason: r.reason })),
    pendingSample: pending.map((p) => ({
      line: p.line,
      space: p.custSpaceId,
      number: maskPhone(p.phoneNumber),
    })),
    options: {
      source: run.source,
      startedBy: startedBy(run.source),
      space: options?.space ?? null,
      priority: run.priority,
      maxAgeSeconds: options?.maxAgeSeconds ?? 0,
      inputPath: options?.inputPath ?? null,
      inputSha256: options?.inputSha256 ?? null,
      inputOptions: options?.inputOptions ?? null,
    },
    timelineSeconds: TIMELINE_SECONDS,
    timeline,
    throttles,
  };
}
