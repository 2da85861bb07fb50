/** The ledger's queue store: recorded by the first process to ask, read by every later one. */
import type { Queryable } from '../pool.js';

export type QueueStoreName = 'redis' | 'postgres';

/** Records `store` when the ledger has none yet; returns the store the ledger runs with. */
export async function recordQueueStore(db: Queryable, store: QueueStoreName): Promise<QueueStoreName> {
  const { rows } = await db.query<{ store: QueueStoreName }>(
    `WITH added AS (
       INSERT INTO queue_store (store) VALUES ($1) ON CONFLICT (singleton) DO NOTHING RETURNING store
     )
     SELECT store FROM added UNION ALL SELECT store FROM queue_store LIMIT 1`,
    [store],
  );
  return rows[0]?.store ?? store;
}
