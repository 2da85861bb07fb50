/**
 * Retention: the per-number rows (`run_items`, `run_rejects`) of runs that finished long ago are
 * deleted in small batches, each its own short transaction, so pruning a run of millions of rows never
 * holds locks that stall the workers. The run itself stays, with its counters and `pruned_at`.
 */
import type { Queryable } from './pool.js';

export interface PruneOptions {
  /** Runs that finished more than this many ms ago are pruned. */
  olderThanMs: number;
  /** Rows deleted per statement. Default 5000. */
  batchSize?: number | undefined;
}

export interface PruneResult {
  /** Runs pruned by this call. */
  runs: number;
  /** run_items rows deleted. */
  items: number;
  /** run_rejects rows deleted. */
  rejects: number;
}

/** Finished (not importing, nothing pending) runs older than the cut-off, not pruned yet; oldest first. */
async function runsToPrune(db: Queryable, olderThanMs: number): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runs
     WHERE pruned_at IS NULL AND finished_at IS NOT NULL AND state <> 'importing' AND pending = 0
       AND finished_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id`,
    [olderThanMs],
  );
  return rows.map((r) => Number(r.id));
}

/** Deletes the rows of one run from `table`, `batchSize` at a time; returns how many. */
async function deleteInBatches(
  db: Queryable,
  table: 'run_items' | 'run_rejects',
  runId: number,
  batchSize: number,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE run_id = $1 LIMIT $2))`,
      [runId, batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return deleted;
  }
}

/**
 * Prunes every finished run older than `olderThanMs`: deletes its run_items and run_rejects in
 * batches, then stamps `pruned_at`. The runs' counters (and so `status`) are unchanged. Safe to run
 * while workers run and twice at once (a second pass finds nothing left to delete).
 */
export async function pruneRuns(db: Queryable, options: PruneOptions): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 5000;
  const result: PruneResult = { runs: 0, items: 0, rejects: 0 };
  for (const runId of await runsToPrune(db, options.olderThanMs)) {
    result.items += await deleteInBatches(db, 'run_items', runId, batchSize);
    result.rejects += await deleteInBatches(db, 'run_rejects', runId, batchSize);
    await db.query('UPDATE runs SET pruned_at = now() WHERE id = $1', [runId]);
    result.runs += 1;
  }
  return result;
}
