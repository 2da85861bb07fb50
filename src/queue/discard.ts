/**
 * Removes a queue from Redis for good: BullMQ's jobs and bookkeeping (`obliterate`), and the keys
 * cams-enrich keeps under the queue's prefix, which `obliterate` does not know: the fleet's metrics
 * (live snapshots and the counters of stopped workers) and the queue's account. For a queue of its own
 * that is done with (the demo, a bench, a test), never a queue a fleet still uses. The account's rate
 * controller is not the queue's (other queues of the account share it): `forgetAccount` removes it.
 */
import { Cluster } from 'ioredis';
import { fleetMetricsKeys } from '../metrics/fleet-metrics.js';
import type { StoreQueue } from './queue-store.js';
import type { RedisClient } from './redis-script.js';

export async function discardQueue<T>(queue: StoreQueue<T>, redis: RedisClient): Promise<void> {
  await queue.obliterate({ force: true });
  const metrics = fleetMetricsKeys(queue.toKey('cams-metrics'));
  // Every key below carries the queue's hash tag on a cluster, so one DEL may take them all.
  const keys = [metrics.index, metrics.retired, queue.toKey('cams-account')];
  keys.push(...(await scanKeys(redis, `${escapeGlob(metrics.snapshot)}*`)));
  await redis.del(...keys);
}

/** Keys matching a glob pattern: on a cluster, from every master. */
async function scanKeys(redis: RedisClient, match: string): Promise<string[]> {
  const found: string[] = [];
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    for await (const batch of node.scanStream({ match, count: 500 }) as AsyncIterable<string[]>)
      found.push(...batch);
  }
  return found;
}

/** `text` as a literal in a Redis glob pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}
