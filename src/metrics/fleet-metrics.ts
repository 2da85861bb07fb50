/**
 * Fleet-wide metrics through Redis: every worker process writes its prom-client registry as JSON
 * under a key of its own with a time to live, and lists itself in an index; the dashboard reads every
 * live snapshot and adds them up with prom-client's `AggregatorRegistry.aggregate` (counters and
 * histograms summed, gauges by their own aggregator).
 *
 * A worker that stops gracefully folds its counters into a `retired` snapshot before it leaves, so
 * the fleet's counters never go down because of a restart. A process killed without a chance to say
 * goodbye is dropped when its snapshot expires: its counts since its last publish are lost and the
 * fleet's sums fall, which Prometheus's rate() reads as a counter reset.
 *
 * Liveness is read on one clock, the Redis server's (`TIME`): a publish is stamped with it and the
 * reader's cutoff is taken from it, so machines whose clocks disagree still see each other.
 */
import type { RedisClient } from '../queue/redis-script.js';
import { loadScript, runScript } from '../queue/redis-script.js';
import { Cluster } from 'ioredis';
import { z } from 'zod';
import { redisTimeMs } from '../queue/clock-check.js';
import type {
  FleetSnapshot,
  MetricsPublisher,
  MetricsPublisherOptions,
  ProcessSnapshot,
} from '../queue/queue-store.js';
import { addToRetired, startSnapshotPublisher, sumFleet } from './snapshot-publisher.js';
import type { Snapshot } from './snapshot-publisher.js';

export interface FleetMetricsKeys {
  /** Sorted set of publishing processes, scored by the Redis server's time of their last publish (ms). */
  index: string;
  /** Prefix of each process's snapshot key. */
  snapshot: string;
  /** Counters of processes that stopped gracefully. */
  retired: string;
}

/**
 * Keys under the queue's own prefix (`queue.toKey('cams-metrics')`); `discardQueue` removes them with the
 * queue (BullMQ's `obliterate` alone does not).
 */
export function fleetMetricsKeys(base: string): FleetMetricsKeys {
  return { index: base, snapshot: `${base}:p:`, retired: `${base}:retired` };
}

/** The store's options with, instead of the queue, the connection and the keys' base. */
export interface RedisMetricsPublisherOptions extends Omit<MetricsPublisherOptions, 'queue'> {
  redis: RedisClient;
  /** `queue.toKey('cams-metrics')`. */
  keyBase: string;
}

const Published = z.object({ published: z.literal(true) });

export function startMetricsPublisher(options: RedisMetricsPublisherOptions): MetricsPublisher {
  const { redis } = options;
  const keys = fleetMetricsKeys(options.keyBase);
  const ttlMs = options.ttlMs ?? 30_000;
  return startSnapshotPublisher(
    {
      async write(id, snapshot) {
        const at = await redisTimeMs(redis);
        await runScript(
          redis,
          loadScript('src/metrics/lua', 'metrics-publish-2.lua'),
          [keys.snapshot + id, keys.index],
          { id, snapshot, ttlMs, at },
          Published,
        );
      },
      retire: (id, counters) => retire(redis, keys, id, counters),
    },
    options,
  );
}

/**
 * Adds a stopping process's counters to the retired snapshot and removes its own, atomically
 * (WATCH/MULTI, on a connection of its own so no other command of the process shares the transaction;
 * the keys share the queue's hash tag, so a cluster runs it on one node). Adding up needs prom-client,
 * so this one is a transaction rather than a script.
 */
async function retire(
  shared: RedisClient,
  keys: FleetMetricsKeys,
  id: string,
  counters: Snapshot,
): Promise<void> {
  const redis =
    shared instanceof Cluster
      ? shared.duplicate([], {
          enableOfflineQueue: true,
          redisOptions: { ...shared.options.redisOptions, maxRetriesPerRequest: 1 },
        })
      : shared.duplicate({ maxRetriesPerRequest: 1, enableOfflineQueue: true });
  redis.on('error', () => undefined); // the caller sees the failed command
  try {
    await retireOn(redis, keys, id, counters);
  } finally {
    redis.disconnect();
  }
}

async function retireOn(
  redis: RedisClient,
  keys: FleetMetricsKeys,
  id: string,
  counters: Snapshot,
): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await redis.watch(keys.retired);
    const stored = await redis.get(keys.retired);
    const json = await addToRetired(stored ? (JSON.parse(stored) as Snapshot) : undefined, counters);
    const done = await redis
      .multi()
      .set(keys.retired, json)
      .del(keys.snapshot + id)
      .zrem(keys.index, id)
      .exec();
    if (done === null) continue; // another process retired at the same time; read again
    const failed = done.find(([err]) => err !== null)?.[0];
    if (failed) throw failed;
    return;
  }
  await redis.unwatch();
}

/** Reads and adds up every live snapshot and the retired counters; drops index entries that expired. */
export async function readFleetMetrics(
  redis: RedisClient,
  keyBase: string,
  ttlMs = 30_000,
): Promise<FleetSnapshot> {
  const keys = fleetMetricsKeys(keyBase);
  await redis.zremrangebyscore(keys.index, '-inf', (await redisTimeMs(redis)) - ttlMs);
  const ids = await redis.zrange(keys.index, 0, -1);
  const values = await redis.mget(keys.retired, ...ids.map((id) => keys.snapshot + id));
  const [retired, ...live] = values;
  return sumFleet(
    retired,
    live.filter((v): v is string => v !== null),
  );
}

/** Each live process's own snapshot, for a view of the fleet process by process. */
export async function readProcessSnapshots(redis: RedisClient, keyBase: string): Promise<ProcessSnapshot[]> {
  const keys = fleetMetricsKeys(keyBase);
  const ids = await redis.zrange(keys.index, 0, -1);
  if (ids.length === 0) return [];
  const values = await redis.mget(...ids.map((id) => keys.snapshot + id));
  const snapshots: ProcessSnapshot[] = [];
  ids.forEach((id, i) => {
    const json = values[i];
    if (json !== null && json !== undefined) snapshots.push(processSnapshot(id, json));
  });
  return snapshots;
}

/** A process's snapshot from its publisher id (`host:pid:random`) and its JSON. */
export function processSnapshot(id: string, json: string): ProcessSnapshot {
  const pidAt = id.lastIndexOf(':', id.lastIndexOf(':') - 1);
  const [pid] = id.slice(pidAt + 1).split(':');
  return {
    id,
    host: id.slice(0, pidAt),
    pid: Number(pid),
    metrics: JSON.parse(json) as ProcessSnapshot['metrics'],
  };
}

/**
 * Processes of the queue's fleet alive now, on this Redis database: those whose snapshot key has not
 * expired (Redis's own clock ages it, so no process's clock is compared with another's). The workers'
 * own heartbeat list, unlike BullMQ's count from the server-wide client list, sees neither other
 * databases' workers nor other queues'.
 */
export async function countLiveProcesses(redis: RedisClient, keyBase: string): Promise<number> {
  const keys = fleetMetricsKeys(keyBase);
  const ids = await redis.zrange(keys.index, 0, -1);
  if (ids.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.exists(keys.snapshot + id);
  const replies = (await pipeline.exec()) ?? [];
  return replies.filter(([err, n]) => err === null && n === 1).length;
}
