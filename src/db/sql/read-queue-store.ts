/** The ledger's queue store as recorded, without recording one. */
import type { Queryable } from '../pool.js';
import type { QueueStoreName } from './record-queue-store.js';

/** The store the ledger runs with; undefined while no process recorded one. */
export async function readQueueStore(db: Queryable): Promise<QueueStoreName | undefined> {
  const { rows } = await db.query<{ store: QueueStoreName }>('SELECT store FROM queue_store');
  return rows[0]?.store;
}
