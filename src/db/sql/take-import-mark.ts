/**
 * The importer's liveness mark on a run: a transaction-scoped advisory lock keyed by
 * ('cams-enrich:import', run id), held until the transaction that took it ends.
 */
import type { Queryable } from '../pool.js';

export async function takeImportMark(db: Queryable, runId: number): Promise<void> {
  await db.query(
    `SELECT pg_advisory_xact_lock(hashtext('cams-enrich:import'), ($1::bigint % 2147483647)::int)`,
    [runId],
  );
}
