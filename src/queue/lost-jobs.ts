/**
 * Finds numbers the ledger says are queued whose job Redis no longer has (Redis restarted without
 * persistence, a flush, or a job that finished just as the same number was fed again for another run)
 * and marks them unqueued, so the feeder puts them back. Used by `resume` and, periodically, by every
 * worker.
 */
import type { RedisClient } from './redis-script.js';
import type { NumberKey } from '../db/ledger.js';
import type { Pool } from '../db/pool.js';
import { markUnqueued } from '../db/sql/mark-unqueued.js';
import { queuedPendingNumbers } from '../db/sql/queued-pending-numbers.js';
import type { EnrichQueue } from './queue.js';
import { jobIdFor } from './queue.js';

export interface RequeueLostJobsOptions {
  pool: Pool;
  queue: EnrichQueue;
  /** A connection for the existence checks (the queue's own is fine). */
  redis: RedisClient;
  /** Only rows queued longer ago than this; 0 checks every queued row. Default 0. */
  queuedBeforeSeconds?: number;
}

/** Returns how many run rows were marked unqueued. */
export async function requeueLostJobs(options: RequeueLostJobsOptions): Promise<number> {
  const { pool, queue, redis } = options;
  let requeued = 0;
  let after: NumberKey | undefined;
  for (;;) {
    const keys = await queuedPendingNumbers(pool, queue.name, 1000, after, options.queuedBeforeSeconds ?? 0);
    if (keys.length === 0) break;
    after = keys[keys.length - 1];
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.exists(queue.toKey(jobIdFor(k.custSpaceId, k.phoneNumber)));
    const exists = (await pipeline.exec()) ?? [];
    const missing = keys.filter((_, i) => exists[i]?.[1] === 0);
    requeued += await markUnqueued(pool, queue.name, missing);
  }
  return requeued;
}
