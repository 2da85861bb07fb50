/** Removes what the ledger keeps of a queue that is done with: its fleet's metrics and its account. */
import type { Queryable } from '../pool.js';

export async function discardQueueRecords(db: Queryable, queue: string): Promise<void> {
  await db.query(
    `WITH processes AS (DELETE FROM fleet_processes WHERE queue = $1),
          retired AS (DELETE FROM fleet_retired WHERE queue = $1)
     DELETE FROM queue_accounts WHERE queue = $1`,
    [queue],
  );
}
