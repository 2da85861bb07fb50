/**
 * Finds numbers the ledger says are queued whose job the queue no longer has (Redis restarted without
 * persistence, a flush, or a job that finished just as the same number was fed again for another run)
 * and marks them unqueued, so the feeder puts them back. Used by `resume` and, periodically, by every
 * worker.
 */
import type { NumberKey } from '../db/ledger.js';
import type { Pool } from '../db/pool.js';
import { markUnqueued } from '../db/sql/mark-unqueued.js';
import { queuedPendingNumbers } from '../db/sql/queued-pending-numbers.js';
import type { EnrichQueue } from './queue.js';
import { jobIdFor } from './queue.js';
import type { QueueStore } from './queue-store.js';

export interface RequeueLostJobsOptions {
  pool: Pool;
  queue: EnrichQueue;
  /** The store the queue is on, for the existence checks. */
  store: QueueStore;
  /** Only rows queued longer ago than this; 0 checks every queued row. Default 0. */
  queuedBeforeSeconds?: number;
}

/** Returns how many run rows were marked unqueued. */
export async function requeueLostJobs(options: RequeueLostJobsOptions): Promise<number> {
  const { pool, queue, store } = options;
  let requeued = 0;
  let after: NumberKey | undefined;
  for (;;) {
    const keys = await queuedPendingNumbers(pool, queue.name, 1000, after, options.queuedBeforeSeconds ?? 0);
    if (keys.length === 0) break;
    after = keys[keys.length - 1];
    const exists = await store.jobsExist(
      queue,
      keys.map((k) => jobIdFor(k.custSpaceId, k.phoneNumber)),
    );
    const missing = keys.filter((_, i) => exists[i] === false);
    requeued += await markUnqueued(pool, queue.name, missing);
  }
  return requeued;
}
