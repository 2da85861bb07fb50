/** The account a queue's workers call CAMS as, kept a week without a worker's start. */
import type { Queryable } from '../pool.js';

export async function recordQueueAccount(db: Queryable, queue: string, account: string): Promise<void> {
  await db.query(
    `INSERT INTO queue_accounts (queue, account, expires_at) VALUES ($1, $2, clock_timestamp() + interval '7 days')
     ON CONFLICT (queue) DO UPDATE SET account = excluded.account, expires_at = excluded.expires_at`,
    [queue, account],
  );
}
