/**
 * Opening what a command works on, each owned by the command's `Resources`: a Redis connection, the
 * queue, and with them the ledger's pool (`database-connection.ts`, where commands that need only the
 * ledger take it from, without loading BullMQ and ioredis).
 */
import type { RedisClient } from './queue/redis-script.js';
import type { Config } from './config.js';
import type { Pool } from './db/pool.js';
import { openDatabase } from './database-connection.js';
import { withDeadline } from './deadline.js';
import type { Logger } from './log.js';
import type { EnrichQueue, RedisRole } from './queue/queue.js';
import { connectRedis, createEnrichQueue, createRedis } from './queue/queue.js';
import { evictionWarning } from './queue/redis-readiness.js';
import type { Resources } from './resources.js';

export { openDatabase };

/**
 * A connection of `role` to `REDIS_URL`, ready and checked (`connectRedis`). A worker waits up to
 * `REDIS_READY_TIMEOUT_MS` from `startedAt` (default: now) for Redis to come (ended at once by `signal`); the other commands give up
 * at the first refusal, within 10 s. A server that may evict keys is logged as a warning.
 */
export async function openRedis(
  res: Resources,
  config: Config,
  log: Logger,
  role: RedisRole,
  signal?: AbortSignal,
  startedAt = performance.now(),
): Promise<RedisClient> {
  const redis = res.own(
    createRedis(config.redisUrl, role, log, { cluster: config.redisCluster }),
    closeRedis,
  );
  // The wait counts from `startedAt` (a worker's own start): it exits within it, whatever came first.
  const waitMs =
    role === 'worker' ? config.redisReadyTimeoutMs : Math.min(10_000, config.redisReadyTimeoutMs);
  const info = await connectRedis(redis, config.redisUrl, {
    timeoutMs: Math.max(1000, Math.round(waitMs - (performance.now() - startedAt))),
    signal,
  });
  const warning = evictionWarning(info);
  if (warning) log.warn({ redis: { maxmemoryPolicy: info.maxmemoryPolicy } }, warning);
  return redis;
}

/** QUIT when the connection is up (bounded: 2 s), else drop it: QUIT would wait for a Redis that is not there. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  await withDeadline(redis.quit(), 2000).catch(() => undefined);
  redis.disconnect();
}

export function openQueue(res: Resources, config: Config, redis: RedisClient, log: Logger): EnrichQueue {
  const queue = res.own(createEnrichQueue(config.queueName, redis), (q) => q.close());
  queue.on('error', (err) => log.error({ err }, 'queue error'));
  return queue;
}

/** What a command that makes or reads runs works on: the ledger, a producer connection and the queue. */
export interface LedgerAndQueue {
  pool: Pool;
  redis: RedisClient;
  queue: EnrichQueue;
}

/** Opens the ledger (`openDatabase`, with its `max` and `readOnly`), then the queue on a producer connection. */
export async function openLedgerAndQueue(
  res: Resources,
  config: Config,
  log: Logger,
  max: number,
  options: { readOnly?: boolean } = {},
): Promise<LedgerAndQueue> {
  const pool = await openDatabase(res, config, log, max, options);
  const redis = await openRedis(res, config, log, 'producer');
  return { pool, redis, queue: openQueue(res, config, redis, log) };
}
