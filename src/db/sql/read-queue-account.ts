/** The account a queue's workers last recorded, unless that was over a week ago. */
import type { Queryable } from '../pool.js';

export async function readQueueAccount(db: Queryable, queue: string): Promise<string | undefined> {
  const { rows } = await db.query<{ account: string }>(
    'SELECT account FROM queue_accounts WHERE queue = $1 AND expires_at > clock_timestamp()',
    [queue],
  );
  return rows[0]?.account;
}
