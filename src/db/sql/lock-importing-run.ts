/** Locks the run until the end of the transaction if it is still `importing`; false if it is not. */
import type { Queryable } from '../pool.js';

export async function lockImportingRun(db: Queryable, runId: number): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM runs WHERE id = $1 AND state = 'importing' FOR UPDATE`, [
    runId,
  ]);
  return (rowCount ?? 0) > 0;
}
