/** The import has recorded every row: the run may now be fed to the queue (finished already if nothing is pending). */
import type { Queryable } from '../pool.js';

export async function markRunReady(db: Queryable, runId: number): Promise<void> {
  await db.query(
    `UPDATE runs SET state = 'ready', finished_at = CASE WHEN pending = 0 THEN now() END
     WHERE id = $1 AND state = 'importing'`,
    [runId],
  );
}
