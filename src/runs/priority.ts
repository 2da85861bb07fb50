/**
 * Changing a run's priority while it runs, as `cams-enrich priority` does it: the feeder serves the
 * run's numbers by the new priority from now on, and its jobs already in Redis move to their new place
 * (a number other ready runs also wait for keeps the best of their priorities). The change is made
 * under the queue's feed lease, so no feeder is adding jobs at the old priority meanwhile.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { RunPriority } from '../db/runs.js';
import { queuedRunNumbers } from '../db/sql/queued-run-numbers.js';
import { releaseFeedLease } from '../db/sql/release-feed-lease.js';
import { setRunPriority } from '../db/sql/set-run-priority.js';
import { takeFeedLease } from '../db/sql/take-feed-lease.js';
import { AppError } from '../errors.js';
import type { EnrichQueue } from '../queue/queue.js';
import { jobPriorityOf } from '../queue/queue.js';
import { reprioritiseJobs } from '../queue/reprioritise-jobs.js';

export interface PriorityResult {
  run: number;
  priority: RunPriority;
  /** Jobs already in Redis given the new priority. */
  movedJobs: number;
}

export interface ChangePriorityOptions {
  /** How long to wait for a feeder to finish its feed before changing anyway. Default 10 000 ms. */
  leaseWaitMs?: number;
}

/** Sets a run's priority and moves its buffered jobs. Throws RUN_NOT_FOUND. */
export async function changeRunPriority(
  deps: { pool: Pool; queue: EnrichQueue },
  runId: number,
  priority: RunPriority,
  options: ChangePriorityOptions = {},
): Promise<PriorityResult> {
  const { pool, queue } = deps;
  const lease = { queue: queue.name, holder: `priority:${process.pid}:${randomBytes(4).toString('hex')}` };
  const deadline = Date.now() + (options.leaseWaitMs ?? 10_000);
  // A feed takes well under a second; a feeder that died holding the lease holds it 30 s at most, and
  // waiting that long is not worth it: a job fed at the old priority is only a few seconds of work.
  let leased = await takeFeedLease(pool, { ...lease, seconds: 30 });
  while (!leased && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    leased = await takeFeedLease(pool, { ...lease, seconds: 30 });
  }
  try {
    const numbers = await withTransaction(pool, async (client) => {
      if (!(await setRunPriority(client, { runId, queue: queue.name, priority })))
        throw new AppError(
          'RUN_NOT_FOUND',
          `run ${runId} does not exist on queue ${queue.name} (see "cams-enrich status" for its runs)`,
        );
      return queuedRunNumbers(client, { runId });
    });
    const movedJobs = await reprioritiseJobs(
      queue,
      numbers.map((n) => ({ ...n, priority: jobPriorityOf(n.priority) })),
    );
    return { run: runId, priority, movedJobs };
  } finally {
    if (leased) await releaseFeedLease(pool, lease).catch(() => undefined);
  }
}
