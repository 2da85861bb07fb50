/**
 * Takes the queue's feed lease for `holder` for `seconds` (or extends its own); false when another
 * feeder holds one that has not run out.
 */
import type { Queryable } from '../pool.js';

export interface FeedLease {
  queue: string;
  holder: string;
  seconds: number;
}

export async function takeFeedLease(db: Queryable, p: FeedLease): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO feed_leases (queue, holder, until) VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (queue) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
     WHERE feed_leases.until < now() OR feed_leases.holder = EXCLUDED.holder
     RETURNING 1`,
    [p.queue, p.holder, p.seconds],
  );
  return (rowCount ?? 0) > 0;
}
