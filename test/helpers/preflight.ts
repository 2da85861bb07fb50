/**
 * vitest global setup: fail the whole run at once, with a message a person can act on, when Redis or
 * PostgreSQL is not there (rather than a hundred ECONNREFUSED stack traces).
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { adminDatabaseUrl, redisUrl } from './services.js';

export default async function preflight(): Promise<void> {
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
