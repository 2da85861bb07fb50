/**
 * Real services for tests, each test file isolated: its own PostgreSQL database and its own BullMQ
 * queue name (and key prefix) on the shared Redis.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DEFAULT_SCHEMA } from '../../src/config.js';
import type { StoreConfig } from '../../src/connections.js';

/** The PostgreSQL server tests create their databases on (`TEST_DATABASE_URL`, else `DATABASE_URL`). */
export function adminDatabaseUrl(): string {
  return (
    process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  );
}

export function redisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export interface TestDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  name: string;
  /** Drops the database (terminating any session left on it). */
  drop(): Promise<void>;
}

/**
 * The run's migrated template database, which the global setup creates once (`preflight.ts`), or
 * undefined when there is none (a file run without the global setup).
 */
export const TEMPLATE_DATABASE_ENV = 'CAMS_TEST_TEMPLATE_DATABASE';

/**
 * Creates a database of its own for one test file: empty, or with `{ migrated: true }` a copy of the
 * run's migrated template (the ledger's schema as `migrate` leaves it, in a fraction of the time
 * migrating takes); `migrate` on such a copy finds it current and changes nothing. Without a template
 * the database is empty and the caller's `migrate` does the work.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `cams_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const template = options.migrated ? process.env[TEMPLATE_DATABASE_ENV] : undefined;
  if (template !== undefined && !/^cams_test_[0-9a-f]+$/.test(template))
    throw new Error(`${TEMPLATE_DATABASE_ENV} is not a template the tests made: ${template}`);
  const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: adminDatabaseUrl() });
      c.on('error', () => undefined);
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** What a queue store opened by a test reads of the configuration: `kind` on the tests' servers. */
export function testStoreConfig(kind: 'redis' | 'postgres', databaseUrl: string): StoreConfig {
  return {
    queueStore: kind,
    redisUrl: kind === 'redis' ? redisUrl() : undefined,
    redisCluster: false,
    redisReadyTimeoutMs: 10_000,
    databaseUrl,
    schema: DEFAULT_SCHEMA,
  };
}

/**
 * Where a test's queue is unless it says: Redis, or PostgreSQL when the run has no Redis
 * (`CAMS_TEST_QUEUE_STORE=postgres`, which vitest.config.ts sets then).
 */
export function testQueueStore(): 'redis' | 'postgres' {
  return process.env.CAMS_TEST_QUEUE_STORE === 'postgres' ? 'postgres' : 'redis';
}

/** A queue name no other test uses. */
export function testQueueName(): string {
  return `test-${randomUUID()}`;
}

/** A Redis connection for tests, closed by the caller. */
export function testRedis(): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Deletes every key of a queue (BullMQ's default prefix `bull`), and of its schedules' queue
 * (`<queue>-schedules`), which every `cams-enrich worker` process opens.
 */
export async function deleteQueueKeys(redis: Redis, queueName: string): Promise<void> {
  for (const name of [queueName, `${queueName}-schedules`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
}
