/**
 * PostgreSQL pool creation and the one transaction helper everything uses.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import { serviceUnavailable } from '../errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolOptions {
  /** Most connections. Default 10. */
  max?: number;
  /** Name shown in pg_stat_activity. Default `cams-enrich`. */
  applicationName?: string;
}

/** Creates a pool with an `'error'` listener attached; the caller closes it with `pool.end()`. */
export function createPool(databaseUrl: string, log: Logger, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'cams-enrich',
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (err) => log.error({ err }, 'idle PostgreSQL client failed'));
  return pool;
}

/** Checks the database answers, turning a refusal into a message that says what to do. */
export async function assertDatabase(pool: Pool, databaseUrl: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
      throw serviceUnavailable('PostgreSQL', databaseUrl, err);
    }
    throw err;
  }
}

/** Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK when it throws. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
