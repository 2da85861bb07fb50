/**
 * The queue on Redis: BullMQ on the caller's ioredis connection (`bullConnection`, the key prefix of
 * `queuePrefix`), the fleet's metrics and heartbeats under the queue's keys (`fleet-metrics.ts`), the
 * rate controller's scripts (`redis-rate-state.ts`), the Redis server's clock.
 */
import { Queue, Worker } from 'bullmq';
import type { Processor } from 'bullmq';
import {
  countLiveProcesses,
  readFleetMetrics,
  readProcessSnapshots,
  startMetricsPublisher,
} from '../metrics/fleet-metrics.js';
import { bullConnection } from './bull-connection.js';
import { redisTimeMs } from './clock-check.js';
import { discardQueue } from './discard.js';
import { queueAccount, recordQueueAccount } from './queue-account.js';
import { connectRedis, queuePrefix } from './queue.js';
import type { QueueStore, StoreQueue, StoreWorker, StoreWorkerOptions } from './queue-store.js';
import { createRedisRateState } from './redis-rate-state.js';
import { readEvictionWarning, redisConfigProblem } from './redis-readiness.js';
import type { RedisClient } from './redis-script.js';

/** The key under the queue's prefix where its fleet's metrics live (`fleetMetricsKeys`). */
export const METRICS_KEY = 'cams-metrics';

export interface RedisQueueStore extends QueueStore {
  readonly kind: 'redis';
  /** The connection everything here runs on. */
  readonly redis: RedisClient;
}

/**
 * The Redis store on `redis` (of the role the caller needs: a worker's or a producer's); `url` names it
 * in messages. `close` closes what the store owns (default nothing: the connection stays the caller's).
 */
export function createRedisQueueStore(
  redis: RedisClient,
  url: string,
  owned: { close?: () => Promise<void> } = {},
): RedisQueueStore {
  let closing: Promise<void> | undefined;
  const options = (group: string) => ({
    connection: bullConnection(redis),
    prefix: queuePrefix(redis, group),
  });
  return {
    kind: 'redis',
    server: 'Redis',
    redis,
    queue<T>(name: string, group = name) {
      return new Queue<T>(name, options(group)) as unknown as StoreQueue<T>;
    },
    worker<T>(name: string, processor: Processor<T>, workerOptions: StoreWorkerOptions, group = name) {
      return new Worker<T>(name, processor, {
        ...workerOptions,
        ...options(group),
      }) as unknown as StoreWorker<T>;
    },
    timeMs: () => redisTimeMs(redis),
    startMetricsPublisher: (o) =>
      startMetricsPublisher({
        redis,
        keyBase: o.queue.toKey(METRICS_KEY),
        registry: o.registry,
        log: o.log,
        intervalMs: o.intervalMs,
        ttlMs: o.ttlMs,
      }),
    readFleetMetrics: (queue, ttlMs) => readFleetMetrics(redis, queue.toKey(METRICS_KEY), ttlMs),
    readProcessSnapshots: (queue) => readProcessSnapshots(redis, queue.toKey(METRICS_KEY)),
    countLiveProcesses: (queue) => countLiveProcesses(redis, queue.toKey(METRICS_KEY)),
    async jobsExist(queue, jobIds) {
      if (jobIds.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of jobIds) pipeline.exists(queue.toKey(id));
      const replies = (await pipeline.exec()) ?? [];
      // A failed check counts as present: only a job Redis surely lacks is put back.
      return jobIds.map((_, i) => replies[i]?.[1] !== 0);
    },
    discardQueue: (queue) => discardQueue(queue, redis),
    disabledSchedules(queue) {
      // A hash under the schedules' queue's prefix (its hash tag on a cluster).
      const key = queue.toKey('disabled-schedules');
      return {
        all: async () => (await redis.hgetall(key)) ?? {},
        get: async (name) => (await redis.hget(key, name)) ?? undefined,
        set: async (name, spec) => void (await redis.hset(key, name, spec)),
        remove: async (name) => (await redis.hdel(key, name)) > 0,
      };
    },
    rateState: (account) => createRedisRateState(redis, account),
    recordQueueAccount: (queue, account) => recordQueueAccount(redis, queue, account),
    queueAccount: (queue) => queueAccount(redis, queue),
    async ready() {
      // A producer's connection is made on first use, and a command sent before it is refused.
      if (redis.status === 'ready') await redis.ping();
      else await connectRedis(redis, url);
    },
    warning: () => readEvictionWarning(redis),
    configProblem: (err) => redisConfigProblem(err, url),
    onError(listener) {
      redis.on('error', listener);
    },
    close() {
      closing ??= owned.close?.() ?? Promise.resolve();
      return closing;
    },
  };
}
