/**
 * Takes numbers' jobs out of Redis (a cancelled run's work). A job a worker holds is locked and stays:
 * its call finishes and the number keeps its real outcome.
 */
import type { EnrichQueue } from './queue.js';
import { jobIdFor } from './queue.js';

export interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

/** Returns how many jobs were removed. */
export async function removeNumberJobs(queue: EnrichQueue, keys: readonly NumberKey[]): Promise<number> {
  let removed = 0;
  for (let i = 0; i < keys.length; i += 100) {
    const chunk = keys.slice(i, i + 100);
    const results = await Promise.all(chunk.map((k) => queue.remove(jobIdFor(k.custSpaceId, k.phoneNumber))));
    removed += results.filter((r) => r === 1).length;
  }
  return removed;
}

/** The numbers whose job a worker holds now. */
export async function numbersInFlight(queue: EnrichQueue): Promise<NumberKey[]> {
  const active = await queue.getJobs(['active']);
  return active
    .filter((j) => j?.data)
    .map((j) => ({ custSpaceId: j.data.custSpaceId, phoneNumber: j.data.phoneNumber }));
}
