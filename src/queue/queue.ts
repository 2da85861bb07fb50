/**
 * The Redis side: connections by role, the enrichment queue, its job options, job ids and the shape
 * of the rate limiter. Redis holds only a bounded window of work; PostgreSQL is the record.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { JobsOptions, RateLimiterOptions } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis-script.js';
import type { Logger } from '../log.js';
import { AppError, redactUrl } from '../errors.js';
import { errorFields, repeatLimitedLog } from '../log-repeats.js';
import { bullConnection } from './bull-connection.js';
import { inspectRedisServer, waitForRedis } from './redis-readiness.js';
import type { RedisServerInfo } from './redis-readiness.js';
import type { StoreQueue } from './queue-store.js';

/** What a job carries: the number to look up. Never a secret. */
export interface EnrichJobData {
  custSpaceId: string;
  phoneNumber: string;
}

/** The enrichment queue, on either store (`queue-store.ts`). */
export type EnrichQueue = StoreQueue<EnrichJobData>;

export type RedisRole =
  /** Workers: blocking commands, retry forever while Redis is away (BullMQ's requirement). */
  | 'worker'
  /** Producers and the CLI: fail fast instead of queueing commands while Redis is away. */
  | 'producer';

export type { RedisClient } from './redis-script.js';

/**
 * Creates an ioredis connection for a role with an `'error'` listener; the caller disconnects it. With
 * `cluster`, `url` names one node of a Redis Cluster (`Cluster`, the other nodes discovered), with the
 * same credentials and TLS (`rediss://`) for every node.
 */
export function createRedis(
  url: string,
  role: RedisRole,
  log: Logger,
  options: { cluster?: boolean } = {},
): RedisClient {
  const roleOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    lazyConnect: role === 'producer',
  };
  const redis = options.cluster
    ? createCluster(url, roleOptions)
    : new Redis(url, { ...roleOptions, connectTimeout: 10_000 });
  // ioredis repeats the same error on every reconnect attempt: one line, then a count.
  const report = repeatLimitedLog(log);
  redis.on('error', (err) => {
    // A worker keeps running through an outage, so it says so; a producer's caller reports the failure itself.
    if (role === 'worker') report('error', err, 'Redis connection error; reconnecting');
    else log.debug({ err: errorFields(err) }, 'Redis connection error');
  });
  return redis;
}

function createCluster(
  url: string,
  role: { maxRetriesPerRequest: number | null; enableOfflineQueue: boolean; lazyConnect: boolean },
): Cluster {
  const u = new URL(url);
  return new Cluster([{ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 6379) }], {
    enableOfflineQueue: role.enableOfflineQueue,
    lazyConnect: role.lazyConnect,
    redisOptions: {
      username: decodeURIComponent(u.username) || undefined,
      password: decodeURIComponent(u.password) || undefined,
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      connectTimeout: 10_000,
      // BullMQ reads a cluster's blocking options here.
      maxRetriesPerRequest: role.maxRetriesPerRequest,
    },
  });
}

/**
 * BullMQ's key prefix for a queue: `bull` on a single server, as always (so an upgrade finds every
 * key where it was), and `{<queue>}` on a cluster, so every key of the queue, its schedules' queue
 * (`<queue>-schedules`) and the keys cams-enrich builds from `queue.toKey` share one hash slot.
 */
export function queuePrefix(connection: RedisClient, queueName: string): string {
  return connection instanceof Cluster ? `{${queueName}}` : 'bull';
}

/** How `connectRedis` waits. */
export interface ConnectOptions {
  /** Longest wait for the connection to be ready, in ms. Default 10000. */
  timeoutMs?: number;
  /** Ends the wait at once. Default: none. */
  signal?: AbortSignal | undefined;
  /** Give up at the first connection error (producers). Default: true unless the connection queues commands offline. */
  failFast?: boolean;
}

/**
 * Connects (or waits for) a connection and checks the server: a refusal becomes a message that says
 * what to do, a misconfiguration (password, ACL, TLS, replica) an exit-2 error naming `REDIS_URL`.
 * Returns what it read of the server.
 */
export async function connectRedis(
  redis: RedisClient,
  url: string,
  options: ConnectOptions = {},
): Promise<RedisServerInfo> {
  await waitForRedis(redis, url, {
    timeoutMs: options.timeoutMs ?? 10_000,
    signal: options.signal,
    failFast: options.failFast ?? redis.options.enableOfflineQueue === false,
  });
  const info = await inspectRedisServer(redis, url);
  await assertRedisDatabase(redis, url);
  return info;
}

/**
 * ioredis ignores a failed SELECT at connect and carries on in database 0; selecting the URL's
 * database again here turns a database this Redis does not have into a clear error.
 */
async function assertRedisDatabase(redis: RedisClient, url: string): Promise<void> {
  if (redis instanceof Cluster) return; // a cluster has database 0 only (config.ts)
  const db = redis.options.db ?? 0;
  if (db === 0) return;
  try {
    await redis.select(db);
  } catch (err) {
    throw new AppError(
      'CONFIG_INVALID',
      `REDIS_URL selects database ${db}, which the Redis at ${redactUrl(url)} does not have (${
        err instanceof Error ? err.message : String(err)
      }): use an index below its "databases" setting (16 by default)`,
      { cause: err },
    );
  }
}

/** The enrichment queue on Redis (`createRedisQueueStore(…).queue(name)` does the same). */
export function createEnrichQueue(name: string, connection: RedisClient): EnrichQueue {
  return new Queue<EnrichJobData>(name, {
    connection: bullConnection(connection),
    prefix: queuePrefix(connection, name),
  }) as unknown as EnrichQueue;
}

/**
 * Job id of a number: the same (space, number) is never queued twice at once. Hashed so that neither
 * separators in a space id nor the phone number itself end up in Redis key names.
 */
export function jobIdFor(custSpaceId: string, phoneNumber: string): string {
  return (
    'n' +
    createHash('sha256').update(custSpaceId).update('\u0000').update(phoneNumber).digest('hex').slice(0, 32)
  );
}

/**
 * The BullMQ priority of a run's jobs (1 is served first). Every job the feeder adds has one, so jobs of
 * a higher-priority run are taken before jobs already buffered for lower ones, in order within one.
 */
export function jobPriorityOf(priority: 'high' | 'normal' | 'low'): number {
  return priority === 'high' ? 1 : priority === 'normal' ? 2 : 3;
}

export interface JobOptionsConfig {
  /** Attempts for transient faults (timeouts, 5xx) before the number fails. */
  attempts: number;
  /** First retry delay in ms; doubles each attempt, with jitter. Default 1000. */
  backoffMs?: number;
}

/**
 * Finished jobs leave Redis at once: their outcome is in PostgreSQL, and a retained job with the same
 * id would make BullMQ ignore the number's next enqueue.
 */
export function enrichJobOptions(config: JobOptionsConfig): JobsOptions {
  return {
    attempts: config.attempts,
    backoff: { type: 'exponential', delay: config.backoffMs ?? 1000, jitter: 0.5 },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

/**
 * The limiter given to every Worker: BullMQ's stock shape, at most `rate` job starts per second. It
 * only keeps job starts in proportion; what keeps the calls to the quota is the rate controller each
 * call passes just before it is sent (`rate-controller.ts`), since BullMQ's limiter is a fixed window
 * counting job starts (it can start 2×rate jobs within a few ms across a window edge) and cannot see
 * what happens between a job's start and its call.
 */
export function limiterFor(ratePerSecond: number): RateLimiterOptions {
  return { max: Math.max(1, Math.ceil(ratePerSecond)), duration: 1000 };
}

/** Jobs in Redis that are not finished: what the high-water mark bounds. */
export async function unfinishedJobs(queue: EnrichQueue): Promise<number> {
  return queue.getJobCountByTypes('waiting', 'delayed', 'prioritized', 'active', 'waiting-children');
}
