/** Gives the queue's feed lease back, if `holder` still holds it. */
import type { Queryable } from '../pool.js';

export async function releaseFeedLease(db: Queryable, p: { queue: string; holder: string }): Promise<void> {
  await db.query('DELETE FROM feed_leases WHERE queue = $1 AND holder = $2', [p.queue, p.holder]);
}
