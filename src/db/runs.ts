/**
 * Runs and their accounting: creating a run, recording what an import read, and reading it back.
 * Every counter changes in the same transaction as the rows it counts (the `runs_accounting` CHECK
 * holds at every commit), so `status` is right at every moment.
 */
import type { Pool, Queryable } from './pool.js';
import { withTransaction } from './pool.js';

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

export interface NewRun {
  queue: string;
  /** `csv:<file name>`, `db`, `refresh`, `schedule:<name>`. */
  source: string;
  /** Numbers fetched more recently than this are skipped (0: always fetch). */
  maxAgeMs: number;
}

/** A valid number read from the source. */
export interface AcceptedRow {
  line: number;
  custSpaceId: string;
  phoneNumber: string;
}

/** A row that is not a valid number (or lacks a space id): recorded in `run_rejects` and the rejects file. */
export interface RejectedRow {
  /** 1-based line of the input where the row starts. */
  line: number;
  /** The cell as read from the input. */
  raw: string;
  /** Why it was rejected, e.g. `too short`. */
  reason: string;
}

const RUN_COLUMNS = `id, queue, source, state, extract(epoch FROM max_age)::float8 AS max_age_seconds,
  total, invalid, duplicate, skipped, enriched, failed, pending, created_at, finished_at`;

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

function toRun(r: RunRow): Run {
  return {
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
  };
}

export async function createRun(db: Queryable, run: NewRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO runs (queue, source, max_age) VALUES ($1, $2, make_interval(secs => $3::float8 / 1000))
     RETURNING id`,
    [run.queue, run.source, run.maxAgeMs],
  );
  return Number(rows[0]!.id);
}

/** The import has recorded every row: the run may now be fed to the queue. */
export async function markReady(db: Queryable, runId: number): Promise<void> {
  await db.query(
    `UPDATE runs SET state = 'ready', finished_at = CASE WHEN pending = 0 THEN now() END
     WHERE id = $1 AND state = 'importing'`,
    [runId],
  );
}

/**
 * The import stopped (bad input, an interrupt, or its importer is gone): nothing of the run is queued
 * (it never was ready), and each number it had accepted is failed with `IMPORT_ABORTED` so the
 * accounting still adds up.
 */
export async function abortRun(pool: Pool, runId: number, reason: string): Promise<void> {
  await withTransaction(pool, (client) => abortRunIn(client, runId, reason));
}

/** `abortRun` inside the caller's transaction. */
export async function abortRunIn(client: Queryable, runId: number, reason: string): Promise<void> {
  const { rowCount } = await client.query(
    `UPDATE run_items SET state = 'failed', error_code = 'IMPORT_ABORTED', error_message = $2, updated_at = now()
     WHERE run_id = $1 AND state = 'pending'`,
    [runId, reason],
  );
  await client.query(
    `UPDATE runs SET state = 'aborted', pending = pending - $2, failed = failed + $2, finished_at = now()
     WHERE id = $1`,
    [runId, rowCount ?? 0],
  );
}

export async function getRun(db: Queryable, runId: number): Promise<Run | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId]);
  return rows[0] ? toRun(rows[0]) : undefined;
}

/** Newest first. */
export async function listRuns(db: Queryable, limit = 50): Promise<Run[]> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1`, [
    limit,
  ]);
  return rows.map(toRun);
}

/** How many runs there are. */
export async function countRuns(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM runs');
  return Number(rows[0]?.n ?? 0);
}

/** Numbers of the run that reached a final state (enriched or failed) in the last `windowSeconds`. */
export async function recentlyDone(db: Queryable, runId: number, windowSeconds: number): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM run_items
     WHERE run_id = $1 AND state IN ('enriched', 'failed') AND updated_at > now() - make_interval(secs => $2)`,
    [runId, windowSeconds],
  );
  return Number(rows[0]?.n ?? 0);
}
