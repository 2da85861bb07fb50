/**
 * Retention: the per-number rows (`run_items`, `run_rejects`, `run_duplicates`) of runs that finished long ago are
 * deleted in small batches, each its own short transaction, so pruning a run of millions of rows never
 * holds locks that stall the workers. The run itself stays, with its counters and `pruned_at`.
 */
import type { Queryable } from './pool.js';
import { deleteRunItems } from './sql/delete-run-items.js';
import { deleteRunDuplicates } from './sql/delete-run-duplicates.js';
import { deleteRunRejects } from './sql/delete-run-rejects.js';
import { markRunPruned } from './sql/mark-run-pruned.js';
import { runsToPrune } from './sql/runs-to-prune.js';

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
  /** run_duplicates rows deleted. */
  duplicates: number;
}

/** Deletes the rows of one run, `batchSize` at a time; returns how many. */
async function deleteInBatches(deleteBatch: () => Promise<number>, batchSize: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await deleteBatch();
    deleted += n;
    if (n < batchSize) return deleted;
  }
}

/**
 * Prunes every finished run older than `olderThanMs`: deletes its run_items, run_rejects and run_duplicates in
 * batches, then stamps `pruned_at`. The runs' counters (and so `status`) are unchanged. Safe to run
 * while workers run and twice at once (a second pass finds nothing left to delete).
 */
export async function pruneRuns(db: Queryable, options: PruneOptions): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 5000;
  const result: PruneResult = { runs: 0, items: 0, rejects: 0, duplicates: 0 };
  for (const runId of await runsToPrune(db, options.olderThanMs)) {
    const batch = { runId, limit: batchSize };
    result.items += await deleteInBatches(() => deleteRunItems(db, batch), batchSize);
    result.rejects += await deleteInBatches(() => deleteRunRejects(db, batch), batchSize);
    result.duplicates += await deleteInBatches(() => deleteRunDuplicates(db, batch), batchSize);
    await markRunPruned(db, runId);
    result.runs += 1;
  }
  return result;
}
