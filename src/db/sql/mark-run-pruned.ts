/** Stamps a run whose per-number rows are deleted; its counters stay. */
import type { Queryable } from '../pool.js';

export async function markRunPruned(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE runs SET pruned_at = now() WHERE id = $1', [runId]);
}
