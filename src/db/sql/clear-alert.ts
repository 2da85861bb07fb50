/** Clears the queue's alert; with `codes`, only when its code is one of them. */
import type { Queryable } from '../pool.js';

export interface ClearAlert {
  queue: string;
  /** Codes the alert must have to be cleared. Default: any. */
  codes?: readonly string[] | undefined;
}

export async function clearAlert(db: Queryable, p: ClearAlert): Promise<void> {
  await db.query('DELETE FROM queue_alerts WHERE queue = $1 AND ($2::text[] IS NULL OR code = ANY ($2))', [
    p.queue,
    p.codes ? [...p.codes] : null,
  ]);
}
