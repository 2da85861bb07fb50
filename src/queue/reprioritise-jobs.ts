/**
 * Gives numbers' jobs already in Redis a new BullMQ priority (a run's priority changed): a waiting job
 * moves to its new place at once; a job in hand or waiting out a retry delay keeps the new priority for
 * when it waits again. A job no longer in Redis (done meanwhile) is left alone.
 */
import type { EnrichQueue } from './queue.js';
import { jobIdFor } from './queue.js';

export interface JobPriority {
  custSpaceId: string;
  phoneNumber: string;
  /** The BullMQ priority (`jobPriorityOf`). */
  priority: number;
}

/** Returns how many jobs changed priority. */
export async function reprioritiseJobs(queue: EnrichQueue, items: readonly JobPriority[]): Promise<number> {
  let changed = 0;
  for (let i = 0; i < items.length; i += 100) {
    const results = await Promise.all(
      items.slice(i, i + 100).map(async (item) => {
        const id = jobIdFor(item.custSpaceId, item.phoneNumber);
        const job = await queue.getJob(id);
        if (!job || job.priority === item.priority) return false;
        try {
          await job.changePriority({ priority: item.priority });
          return true;
        } catch (err) {
          // Finished and removed between the read and the change: nothing to move.
          if (!(await queue.getJob(id))) return false;
          throw err;
        }
      }),
    );
    changed += results.filter(Boolean).length;
  }
  return changed;
}
