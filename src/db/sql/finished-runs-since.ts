/**
 * Runs of the queue that finished after `since` (up to the database's now, returned with them so the
 * next call starts there), oldest first. Always one row: `id` is null when none finished.
 */
import type { Queryable } from '../pool.js';

export interface FinishedRunRow {
  id: string | null;
  source: string;
  total: string;
  enriched: string;
  failed: string;
  skipped: string;
  duplicate: string;
  invalid: string;
  seconds: number;
  finished_at: Date | null;
  now: Date;
}

export interface FinishedRunsSince {
  queue: string;
  since: Date;
}

export async function finishedRunsSince(db: Queryable, p: FinishedRunsSince): Promise<FinishedRunRow[]> {
  const { rows } = await db.query<FinishedRunRow>(
    `SELECT r.id, r.source, r.total, r.enriched, r.failed, r.skipped, r.duplicate, r.invalid,
            extract(epoch FROM r.finished_at - r.created_at)::float8 AS seconds, r.finished_at, n.now
     FROM (SELECT now() AS now) n
     LEFT JOIN runs r ON r.queue = $1 AND r.finished_at > $2 AND r.finished_at <= n.now
     ORDER BY r.finished_at`,
    [p.queue, p.since],
  );
  return rows;
}
