/** Runs with their accounting, newest first: one run by id, or the newest `limit`. */
import type { Queryable } from '../pool.js';

export type RunState = 'importing' | 'ready' | 'aborted';

export interface RunCounts {
  total: number;
  invalid: number;
  duplicate: number;
  skipped: number;
  enriched: number;
  failed: number;
  pending: number;
}

export interface Run extends RunCounts {
  id: number;
  queue: string;
  source: string;
  state: RunState;
  maxAgeSeconds: number;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface ReadRuns {
  /** Only this run. Default: every run. */
  runId?: number | undefined;
  limit: number;
}

interface RunRow {
  id: string;
  queue: string;
  source: string;
  state: RunState;
  max_age_seconds: number;
  total: string;
  invalid: string;
  duplicate: string;
  skipped: string;
  enriched: string;
  failed: string;
  pending: string;
  created_at: Date;
  finished_at: Date | null;
}

export async function readRuns(db: Queryable, p: ReadRuns): Promise<Run[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT id, queue, source, state, extract(epoch FROM max_age)::float8 AS max_age_seconds,
            total, invalid, duplicate, skipped, enriched, failed, pending, created_at, finished_at
     FROM runs WHERE $1::bigint IS NULL OR id = $1
     ORDER BY id DESC LIMIT $2`,
    [p.runId ?? null, p.limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    queue: r.queue,
    source: r.source,
    state: r.state,
    maxAgeSeconds: r.max_age_seconds,
    total: Number(r.total),
    invalid: Number(r.invalid),
    duplicate: Number(r.duplicate),
    skipped: Number(r.skipped),
    enriched: Number(r.enriched),
    failed: Number(r.failed),
    pending: Number(r.pending),
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  }));
}
