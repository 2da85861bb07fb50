/**
 * Removes a queue from Redis for good: BullMQ's jobs and bookkeeping (`obliterate`), and the keys
 * cams-enrich keeps under the queue's prefix, which `obliterate` does not know: the rate controller's
 * state and the fleet's metrics (live snapshots and the counters of stopped workers). For a queue of
 * its own that is done with (the demo, a bench, a test), never a queue a fleet still uses.
 */
import type { Redis } from 'ioredis';
import { fleetMetricsKeys } from '../metrics/fleet-metrics.js';
import type { EnrichQueue } from './queue.js';
import { limiterKey, limiterKeys } from './rate-controller.js';

export async function discardQueue(queue: EnrichQueue, redis: Redis): Promise<void> {
  await queue.obliterate({ force: true });
  const metrics = fleetMetricsKeys(queue.toKey('cams-metrics'));
  const keys = [...limiterKeys(limiterKey(queue.name)), metrics.index, metrics.retired];
  const stream = redis.scanStream({ match: `${escapeGlob(metrics.snapshot)}*`, count: 500 });
  for await (const batch of stream as AsyncIterable<string[]>) keys.push(...batch);
  await redis.del(...keys);
}

/** `text` as a literal in a Redis glob pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}
