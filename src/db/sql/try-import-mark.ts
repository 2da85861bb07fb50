/**
 * Takes a run's liveness mark (`take-import-mark.ts`) until the end of the transaction if no one holds
 * it: true means the run's importer is gone.
 */
import type { Queryable } from '../pool.js';

export async function tryImportMark(db: Queryable, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ free: boolean }>(
    `SELECT pg_try_advisory_xact_lock(hashtext('cams-enrich:import'), ($1::bigint % 2147483647)::int) AS free`,
    [runId],
  );
  return rows[0]?.free === true;
}
