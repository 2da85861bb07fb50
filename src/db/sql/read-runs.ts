/**
 * Runs with their accounting, newest first: one run by id, or the newest `limit` of a queue (only those
 * with work for the workers, with `working`). A run with work has no `finished_at` (it is set when the
 * last number settles, or the run is cancelled or aborted), which the index `runs_by_queue_finished`
 * finds among a ledger's 100 000s of finished runs.
 */
import type { Queryable } from '../pool.js';

export type RunState = 'importing' | 'ready' | 'aborted' | 'cancelled';

/** The order in which the feeder serves ready runs: every `high` run before any `normal` one, and so on. */
export const RUN_PRIORITIES = ['high', 'normal', 'low'] as const;
export type RunPriority = (typeof RUN_PRIORITIES)[number];

export interface RunCounts {
  total: number;
  invalid: number;
  duplicate: number;
  skipped: number;
  enriched: number;
  failed: number;
  cancelled: number;
  pending: number;
}

export interface Run extends RunCounts {
  id: number;
  queue: string;
  source: string;
  state: RunState;
  priority: RunPriority;
  maxAgeSeconds: number;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface ReadRuns {
  /** Only this run. Default: every run. */
  runId?: number | undefined;
  /** Only this queue's runs. Default: every queue's. */
  queue?: string | undefined;
  /** Only runs with work for the workers (ready, pending > 0). Default false. */
  working?: boolean | undefined;
  limit: number;
}

/** A run's columns as `RUN_COLUMNS_SQL` selects them. */
export interface RunRow {
  id: string;
  queue: string;
  source: string;
  state: RunState;
  priority: RunPriority;
  max_age_seconds: number;
  total: string;
  invalid: string;
  duplicate: string;
  skipped: string;
  enriched: string;
  failed: string;
  cancelled: string;
  pending: string;
  created_at: Date;
  finished_at: Date | null;
}

/** The columns of `runs` a `RunRow` has. */
export const RUN_COLUMNS_SQL = `id, queue, source, state, priority, extract(epoch FROM max_age)::float8 AS max_age_seconds,
            total, invalid, duplicate, skipped, enriched, failed, cancelled, pending, created_at, finished_at`;

export function toRun(r: RunRow): Run {
  return {
    id: Number(r.id),
    queue: r.queue,
    source: r.source,
    state: r.state,
    priority: r.priority,
    maxAgeSeconds: r.max_age_seconds,
    total: Number(r.total),
    invalid: Number(r.invalid),
    duplicate: Number(r.duplicate),
    skipped: Number(r.skipped),
    enriched: Number(r.enriched),
    failed: Number(r.failed),
    cancelled: Number(r.cancelled),
    pending: Number(r.pending),
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

export async function readRuns(db: Queryable, p: ReadRuns): Promise<Run[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS_SQL}
     FROM runs
     WHERE ($1::bigint IS NULL OR id = $1) AND ($3::text IS NULL OR queue = $3)
       AND (NOT $4::boolean OR (state = 'ready' AND pending > 0 AND finished_at IS NULL))
     ORDER BY id DESC LIMIT $2`,
    [p.runId ?? null, p.limit, p.queue ?? null, p.working ?? false],
  );
  return rows.map(toRun);
}
