/**
 * The import has recorded every row: the run may now be fed to the queue (finished already if nothing is
 * pending). Returns false when the run was no longer importing (cancelled meanwhile).
 */
import type { Queryable } from '../pool.js';

export async function markRunReady(db: Queryable, runId: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runs SET state = 'ready', finished_at = CASE WHEN pending = 0 THEN now() END
     WHERE id = $1 AND state = 'importing'`,
    [runId],
  );
  return (rowCount ?? 0) > 0;
}
