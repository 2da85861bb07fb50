/**
 * Resources a command opens, closed in reverse order of opening: every release runs even if one
 * throws, the first error is kept, and closing twice is the same as closing once.
 */
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { assertDatabase, createPool } from './db/pool.js';
import type { Pool } from './db/pool.js';
import { assertMigrated, migrate } from './db/migrate.js';
import type { Logger } from './log.js';
import type { EnrichQueue, RedisRole } from './queue/queue.js';
import { createFeeder } from './queue/feeder.js';
import { connectRedis, createEnrichQueue, createRedis } from './queue/queue.js';
import { evictionWarning } from './queue/redis-readiness.js';
import type { RunStatus } from './runs/status.js';
import { runStatus } from './runs/status.js';

/** Runs every step in order, even when one throws; then rethrows the first error. */
export async function runEvery(steps: Iterable<() => unknown>): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export class Resources {
  readonly #releasers: Array<() => Promise<void> | void> = [];
  #closing: Promise<void> | undefined;

  /** Registers `release` to run at close and hands `resource` back. */
  own<T>(resource: T, release: (r: T) => Promise<unknown> | unknown): T {
    this.#releasers.push(async () => {
      await release(resource);
    });
    return resource;
  }

  close(): Promise<void> {
    this.#closing ??= runEvery(this.#releasers.reverse());
    return this.#closing;
  }
}

/**
 * A pool that answers, on an up-to-date schema. Commands that write (import, worker, demo) apply
 * missing migrations themselves (safe from every process at once); read-only ones (`readOnly`) only
 * check and say to run `migrate`, so pointing them at a database never changes it.
 */
export async function openDatabase(
  res: Resources,
  config: Config,
  log: Logger,
  max = 10,
  options: { readOnly?: boolean } = {},
): Promise<Pool> {
  const pool = res.own(createPool(config.databaseUrl, log, { max, schema: config.schema }), (p) => p.end());
  await assertDatabase(pool, config.databaseUrl);
  if (options.readOnly) await assertMigrated(pool, { schema: config.schema });
  else await migrate(pool, log, { schema: config.schema });
  return pool;
}

/**
 * A connection of `role` to `REDIS_URL`, ready and checked (`connectRedis`). A worker waits up to
 * `REDIS_READY_TIMEOUT_MS` for Redis to come (ended at once by `signal`); the other commands give up
 * at the first refusal, within 10 s. A server that may evict keys is logged as a warning.
 */
export async function openRedis(
  res: Resources,
  config: Config,
  log: Logger,
  role: RedisRole,
  signal?: AbortSignal,
): Promise<Redis> {
  const redis = res.own(createRedis(config.redisUrl, role, log), closeRedis);
  const info = await connectRedis(redis, config.redisUrl, {
    timeoutMs: role === 'worker' ? config.redisReadyTimeoutMs : Math.min(10_000, config.redisReadyTimeoutMs),
    signal,
  });
  const warning = evictionWarning(info);
  if (warning) log.warn({ redis: { maxmemoryPolicy: info.maxmemoryPolicy } }, warning);
  return redis;
}

/** QUIT when the connection is up (bounded: 2 s), else drop it: QUIT would wait for a Redis that is not there. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    redis.quit().catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, 2000))),
  ]);
  clearTimeout(timer);
  redis.disconnect();
}

export function openQueue(res: Resources, config: Config, redis: Redis, log: Logger): EnrichQueue {
  const queue = res.own(createEnrichQueue(config.queueName, redis), (q) => q.close());
  queue.on('error', (err) => log.error({ err }, 'queue error'));
  return queue;
}

/** What a command that makes or reads runs works on: the ledger, a producer connection and the queue. */
export interface LedgerAndQueue {
  pool: Pool;
  redis: Redis;
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

/** Puts the first window of a new run's work into Redis (the workers' feeders keep it topped up); returns its status. */
export async function feedNewRun(
  config: Config,
  ledger: LedgerAndQueue,
  log: Logger,
  runId: number,
): Promise<RunStatus> {
  await feedOnce(config, ledger.pool, ledger.queue, log);
  return runStatus(ledger.pool, runId);
}

/** Feeds the queue's Redis buffer from the ledger up to `CAMS_QUEUE_HIGH_WATER`, once. */
export async function feedOnce(config: Config, pool: Pool, queue: EnrichQueue, log: Logger): Promise<number> {
  return createFeeder({
    pool,
    queue,
    log,
    highWater: config.queueHighWater,
    jobOptions: { attempts: config.attempts },
  }).fill();
}
