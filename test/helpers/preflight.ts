/**
 * vitest global setup: the PostgreSQL the tests use, and a run that fails at once, with a message a
 * person can act on, when a server they were given is not there (rather than a hundred ECONNREFUSED
 * stack traces).
 *
 * PostgreSQL: `TEST_DATABASE_URL` or `DATABASE_URL` when set; else the server on 127.0.0.1:5432 when one
 * answers; else the embedded server (started in a data directory of the tests' own, stopped at the end
 * when this run started it), whose URL the tests get as `TEST_DATABASE_URL`. Redis: checked when the
 * tests use it (vitest.config.ts leaves out the files that need it when there is none to use).
 *
 * The ledger's migrations run once, into a template database the tests copy
 * (`createTestDatabase({ migrated: true })`), dropped at the end.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { embeddedDatabaseUrl } from '../../src/data-dir.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { ensureEmbeddedServer, stopEmbeddedServer } from '../../src/embedded/server.js';
import { createLogger } from '../../src/log.js';
import { answers } from './requirements.js';
import { TEMPLATE_DATABASE_ENV, adminDatabaseUrl, createTestDatabase, redisUrl } from './services.js';

export default async function preflight(): Promise<() => Promise<void>> {
  let stopServer: (() => Promise<void>) | undefined;
  if (!(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL) && !(await answers('127.0.0.1', 5432))) {
    const dataDir =
      process.env.CAMS_TEST_DATA_DIR || join(tmpdir(), `cams-enrich-test-${process.getuid?.() ?? 0}`);
    const log = createLogger({ level: 'warn', format: 'json' });
    const { started } = await ensureEmbeddedServer({ dataDir, log });
    process.env.TEST_DATABASE_URL = embeddedDatabaseUrl(dataDir, 'postgres');
    process.stderr.write(
      `no PostgreSQL given (DATABASE_URL) or on 127.0.0.1:5432: the tests use the embedded server in ${dataDir}\n`,
    );
    if (started) stopServer = async () => void (await stopEmbeddedServer({ dataDir, log }));
  }
  if (process.env.TEST_REDIS_URL || process.env.REDIS_URL || (await answers('127.0.0.1', 6379))) {
    await checkRedis();
  }
  await checkPostgres();
  const dropTemplate = await createTemplateDatabase();
  return async () => {
    try {
      await dropTemplate();
    } finally {
      await stopServer?.();
    }
  };
}

/**
 * Creates the migrated template the test files copy and names it in the environment they inherit;
 * returns what drops it.
 */
async function createTemplateDatabase(): Promise<() => Promise<void>> {
  const template = await createTestDatabase();
  const log = createLogger({ level: 'warn', format: 'json' });
  // A copy is made only of a database nobody is connected to: the pool is closed before any test starts.
  const pool = createPool(template.url, log, { max: 1 });
  try {
    await migrate(pool, log);
  } catch (err) {
    await pool.end();
    await template.drop();
    throw err;
  }
  await pool.end();
  process.env[TEMPLATE_DATABASE_ENV] = template.name;
  return () => template.drop();
}

async function checkRedis(): Promise<void> {
  const redis = new Redis(redisUrl(), {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not running at ${redisUrl()}: see README, "Services" (${String(err)})`, {
      cause: err,
    });
  } finally {
    redis.disconnect();
  }
}

async function checkPostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not running at ${adminDatabaseUrl()}: see README, "Services" (${String(err)})`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
