/**
 * Opening what a command works on, each owned by the command's `Resources`: the queue's store
 * (`queue-store.ts`), the queue, and with them the ledger's pool (`database-connection.ts`, where
 * commands that need only the ledger take it from, without loading BullMQ and ioredis).
 */
import type { RedisClient } from './queue/redis-script.js';
import type { Config } from './config.js';
import type { Pool } from './db/pool.js';
import { openDatabase } from './database-connection.js';
import { withDeadline } from './deadline.js';
import type { Logger } from './log.js';
import type { EnrichJobData, EnrichQueue, RedisRole } from './queue/queue.js';
import { connectRedis, createRedis } from './queue/queue.js';
import type { QueueStore } from './queue/queue-store.js';
import { createRedisQueueStore } from './queue/redis-queue-store.js';
import { createPostgresQueueStore } from './queue/postgres-queue-store.js';
import { createPostgresRateState } from './queue/postgres-rate-state.js';
import { assertLedgerQueueStore } from './db/ledger-queue-store.js';
import { Resources } from './resources.js';
import { evictionWarning } from './queue/redis-readiness.js';

export { openDatabase };

/**
 * A connection of `role` to `REDIS_URL`, ready and checked (`connectRedis`). A worker waits up to
 * `REDIS_READY_TIMEOUT_MS` from `startedAt` (default: now) for Redis to come (ended at once by `signal`); the other commands give up
 * at the first refusal, within 10 s. A server that may evict keys is logged as a warning.
 */
export async function openRedis(
  res: Resources,
  config: Pick<Config, 'redisUrl' | 'redisCluster' | 'redisReadyTimeoutMs'> & { redisUrl: string },
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

/** What opening a queue store reads of the configuration. */
export type StoreConfig = Pick<
  Config,
  'queueStore' | 'redisUrl' | 'redisCluster' | 'redisReadyTimeoutMs' | 'databaseUrl' | 'schema'
>;

export interface StoreOpenOptions {
  /** Ends a worker's wait for Redis at once. */
  signal?: AbortSignal | undefined;
  /** When the wait for Redis started (a worker's own start). Default now. */
  startedAt?: number;
  /** Connections of the PostgreSQL store's queue pool. Default 10. */
  max?: number | undefined;
}

/**
 * Creates the configured queue store (`Config.queueStore`: the one place that chooses) for `role`,
 * owning its connections, without waiting for it: Redis at `REDIS_URL` (a worker's connection retries
 * through an outage, a producer's fails fast), or BullMQ's PostgreSQL backend at `DATABASE_URL` beside
 * the ledger `ledger`. `store.ready()` says when it can be used.
 */
export function createQueueStore(
  config: StoreConfig,
  log: Logger,
  ledger: Pool | undefined,
  role: RedisRole,
  max?: number,
): QueueStore {
  if (config.queueStore === 'postgres' || config.redisUrl === undefined) {
    if (ledger === undefined) throw new Error('the queue on PostgreSQL needs the ledger');
    return createPostgresQueueStore({
      databaseUrl: config.databaseUrl,
      ledger,
      log,
      max,
      rateState: (account) => createPostgresRateState(ledger, account, { schema: config.schema }),
    });
  }
  const redis = createRedis(config.redisUrl, role, log, { cluster: config.redisCluster });
  return createRedisQueueStore(redis, config.redisUrl, { close: () => closeRedis(redis) });
}

/**
 * The configured queue store, connected and ready: on Redis, waiting as `openRedis` does (and warning
 * of an eviction policy); on PostgreSQL, BullMQ's schema checked (`prepareQueueSchema`).
 */
export async function connectQueueStore(
  config: StoreConfig,
  log: Logger,
  ledger: Pool | undefined,
  role: RedisRole,
  options: StoreOpenOptions = {},
): Promise<QueueStore> {
  if (config.queueStore === 'postgres' || config.redisUrl === undefined) {
    const store = createQueueStore(config, log, ledger, role, options.max);
    try {
      await store.ready();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }
  const own = new Resources();
  try {
    const redis = await openRedis(
      own,
      { ...config, redisUrl: config.redisUrl },
      log,
      role,
      options.signal,
      options.startedAt,
    );
    return createRedisQueueStore(redis, config.redisUrl, { close: () => own.close() });
  } catch (err) {
    await own.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The configured queue store (`connectQueueStore`), owned by `res`, on a ledger that runs with it: the
 * first process records the store in the ledger (`record`, default true; read-only commands only
 * compare), and one configured with the other store is refused (`QUEUE_STORE_MISMATCH`, exit 2). A
 * command that does not use the ledger passes no `ledger`: on Redis none is opened (nor compared), on
 * PostgreSQL the store opens one of its own.
 */
export async function openQueueStore(
  res: Resources,
  config: Config,
  log: Logger,
  ledger: Pool | undefined,
  role: RedisRole,
  options: StoreOpenOptions & { record?: boolean } = {},
): Promise<QueueStore> {
  if (ledger === undefined && config.queueStore === 'postgres')
    ledger = await openDatabase(res, config, log, 2);
  if (ledger !== undefined)
    await assertLedgerQueueStore(ledger, config.queueStore, { record: options.record ?? true });
  return res.own(await connectQueueStore(config, log, ledger, role, options), (s) => s.close());
}

/**
 * Stores for a local stack (`startLocalStack`), each a store of its own on the configured server,
 * created without waiting (`createQueueStore`); the stack waits for its own one to be ready.
 */
export function queueStoreOpener(
  config: StoreConfig,
  log: Logger,
  ledger: Pool,
): (role: RedisRole, max?: number) => QueueStore {
  return (role, max) => createQueueStore(config, log, ledger, role, max);
}

export function openQueue(res: Resources, config: Config, store: QueueStore, log: Logger): EnrichQueue {
  const queue = res.own(store.queue<EnrichJobData>(config.queueName), (q) => q.close());
  queue.on('error', (err) => log.error({ err }, 'queue error'));
  return queue;
}

/** What a command that makes or reads runs works on: the ledger, the queue's store (a producer's) and the queue. */
export interface LedgerAndQueue {
  pool: Pool;
  store: QueueStore;
  queue: EnrichQueue;
}

/** Opens the ledger (`openDatabase`, with its `max` and `readOnly`), then the queue on a producer's store. */
export async function openLedgerAndQueue(
  res: Resources,
  config: Config,
  log: Logger,
  max: number,
  options: { readOnly?: boolean } = {},
): Promise<LedgerAndQueue> {
  const pool = await openDatabase(res, config, log, max, options);
  const store = await openQueueStore(res, config, log, pool, 'producer', { record: !options.readOnly });
  return { pool, store, queue: openQueue(res, config, store, log) };
}
