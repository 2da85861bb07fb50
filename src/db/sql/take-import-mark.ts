/**
 * A new run id, and the importer's liveness mark on it: a transaction-scoped advisory lock keyed by
 * ('cams-enrich:import', run id), held until the transaction that took it ends. The id is drawn from the
 * runs' identity sequence before the run exists, so the run is never visible without its mark.
 */
import type { Queryable } from '../pool.js';

export async function takeImportMark(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id, pg_advisory_xact_lock(hashtext('cams-enrich:import'), (s.id % 2147483647)::int)
     FROM (SELECT nextval(pg_get_serial_sequence('runs', 'id')) AS id) s`,
  );
  return Number(rows[0]!.id);
}
