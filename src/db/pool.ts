/**
 * PostgreSQL pool creation and the one transaction helper everything uses.
 */
import pg from 'pg';
import { DEFAULT_SCHEMA } from '../config.js';
import type { Logger } from '../log.js';
import { AppError, redactUrl, serviceUnavailable } from '../errors.js';
import { isTransientDatabaseError, markConnectionFailure } from './retry.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolOptions {
  /** Most connections. Default 10. */
  max?: number;
  /** Name shown in pg_stat_activity. Default `cams-enrich`. */
  applicationName?: string;
  /**
   * Schema of the ledger's own tables, searched before `public` by every transaction on the pool's
   * connections, so statements name tables unqualified: `runs` is the ledger's, `business_profiles` the
   * one in `public`. Default `cams_enrich` (`Config.schema`).
   */
  schema?: string;
  /**
   * Ends a session left idle inside a transaction for this long (PostgreSQL's
   * `idle_in_transaction_session_timeout`, set with each transaction's BEGIN like the search_path), so
   * a stuck process never holds row locks for long. Code
   * that waits inside a transaction on purpose (streaming reads, exports, migrations) turns it off for
   * its own transaction or session. 0 turns it off. Default 60000.
   */
  idleInTransactionTimeoutMs?: number;
}

/** The `search_path` that puts the ledger's schema (quoted as an identifier) before `public`. */
export function ledgerSearchPath(schema: string): string {
  return `${pg.escapeIdentifier(schema)},public`;
}

/**
 * The loggable part of a PostgreSQL or socket error: message and code only. A `pg` error event also
 * carries the client, whose connection parameters and cancel key must never reach a log.
 */
export function pgErrorFields(err: unknown): { message: string; code?: string } {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { message, code } : { message };
}

/** A transaction's start, as this code and its callers write it: BEGIN or START TRANSACTION, with modes. */
const TRANSACTION_START = /^\s*(?:BEGIN|START\s+TRANSACTION)\b[^;]*;?\s*$/i;

/**
 * Creates a pool where every client, idle or checked out, has an `'error'` listener, so a connection
 * that dies (server restart, network cut) is logged and discarded instead of crashing the process.
 * The caller closes it with `pool.end()`.
 *
 * The ledger's schema comes first on the `search_path` of every transaction, set with `SET LOCAL`,
 * never for the session: a transaction started on one of the pool's clients (`BEGIN`, `START
 * TRANSACTION`, with any modes) is sent as `BEGIN …; SET LOCAL search_path TO …` in one round trip, and
 * `pool.query` runs its statement in such a transaction of its own. So nothing is set at connection
 * start (a transaction pooler such as PgBouncer refuses startup options) and nothing is left on a
 * server connection that a pooler hands to another client. A statement sent on a checked-out client
 * outside a transaction gets the role's own search_path: name the schema there.
 */
export function createPool(databaseUrl: string, log: Logger, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'cams-enrich',
    connectionTimeoutMillis: 10_000,
  });
  // Each transaction also gets the idle-in-transaction timeout (code that idles on purpose sets its own).
  const idleMs = Math.max(0, Math.floor(options.idleInTransactionTimeoutMs ?? 60_000));
  const setPath = `; SET LOCAL search_path TO ${ledgerSearchPath(options.schema ?? DEFAULT_SCHEMA)}; SET LOCAL idle_in_transaction_session_timeout = ${idleMs}`;
  // The pool listens to its idle clients and removes a broken one; it re-emits the error here.
  pool.on('error', (err) => log.warn({ err: pgErrorFields(err) }, 'idle PostgreSQL connection lost'));
  pool.on('connect', (client) => {
    // A checked-out client has no listener of the pool's: this one stays for the client's life. The
    // query in progress fails on its own, and `withClient` discards the client.
    client.on('error', (err) => log.debug({ err: pgErrorFields(err) }, 'PostgreSQL connection lost'));
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((config: unknown, ...rest: unknown[]) =>
      typeof config === 'string' && TRANSACTION_START.test(config)
        ? query(config.trim().replace(/;$/, '') + setPath, ...rest)
        : query(config, ...rest)) as typeof client.query;
  });
  pool.query = ((text: unknown, values?: unknown) => {
    if (typeof text !== 'string' && (typeof text !== 'object' || text === null || 'submit' in text)) {
      throw new TypeError('pool.query takes a statement and its values; use a client for anything else');
    }
    if (typeof values === 'function')
      throw new TypeError('pool.query returns a promise; it takes no callback');
    return withTransaction(pool, (client) => client.query(text as string, values as unknown[] | undefined));
  }) as typeof pool.query;
  return pool;
}

/** Node's TLS error codes for a server certificate that does not verify (untrusted CA, self-signed, expired, wrong host). */
export const UNTRUSTED_CERTIFICATE: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Checks the database answers, turning a refusal into a message that says what to do. */
export async function assertDatabase(pool: Pool, databaseUrl: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const detail = err instanceof Error ? err.message : String(err);
    const where = redactUrl(databaseUrl);
    // By SQLSTATE and errno, never by message text.
    if (code === '28000' || code === '28P01') {
      throw new AppError(
        'CONFIG_INVALID',
        `DATABASE_URL: PostgreSQL at ${where} refused the login (${detail}): set DATABASE_URL to a role that exists there, with its password`,
        { cause: err },
      );
    }
    if (code === '3D000') {
      throw new AppError(
        'CONFIG_INVALID',
        `DATABASE_URL: ${detail} at ${where}: create it (createdb) or set DATABASE_URL to an existing database`,
        { cause: err },
      );
    }
    if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) {
      throw new AppError(
        'CONFIG_INVALID',
        `DATABASE_URL: PostgreSQL at ${where} presented a certificate this process does not trust (${code}: ${detail}). ` +
          'node-postgres reads sslmode=require as verify-full: add sslrootcert=/path/to/ca.pem (the CA that signed ' +
          "the server's certificate) with sslmode=verify-full, or sslmode=no-verify to encrypt without checking who answers",
        { cause: err },
      );
    }
    // Refused, host not found, unroutable, timed out, or a connection that ended before it was ready.
    if (isTransientDatabaseError(err)) throw serviceUnavailable('PostgreSQL', databaseUrl, err);
    throw err;
  }
}

/**
 * Runs `fn` with a client of its own. A client whose connection failed while held (its `'error'`
 * event, or a failure `fn` reports through `discard`) goes back with `release(err)`, so the pool
 * closes it instead of handing a dead connection to the next caller.
 */
export async function withClient<T>(
  pool: Pool,
  fn: (client: PoolClient, discard: (err: unknown) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect().catch((err: unknown) => {
    // No client: the connection could not be made (a refusal, a timeout, the pool's wait).
    throw markConnectionFailure(err, '08001');
  });
  let broken: Error | undefined;
  const discard = (err: unknown) => {
    broken ??= err instanceof Error ? err : new Error(String(err));
  };
  client.on('error', discard);
  try {
    return await fn(client, discard);
  } catch (err) {
    // The connection died under the statement: a connection failure, whatever `pg` called it.
    throw broken ? markConnectionFailure(err, '08006') : err;
  } finally {
    client.off('error', discard);
    client.release(broken);
  }
}

/**
 * Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK when it throws. A client whose
 * ROLLBACK fails is discarded, never reused in an unknown state.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client, discard) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(discard);
      throw err;
    }
  });
}
