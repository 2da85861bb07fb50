/**
 * Riding out PostgreSQL blips: which errors are worth retrying (a lost connection, a server shutting
 * down or refusing connections, a deadlock) and a bounded retry with exponential backoff. Used by the
 * workers (`retrying-ledger.ts`), so a database hiccup neither kills a process nor costs a second CAMS
 * call.
 */

/** Node's error codes for a connection that failed or was never made. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say "try again": class 08 (connection exception), 57P01-57P03 (admin shutdown, crash
 * shutdown, cannot connect now), 53300 (too many connections), 40001 and 40P01 (serialization failure,
 * deadlock: the transaction was rolled back whole).
 */
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/**
 * True for a failure of the database connection rather than of the statement, told by its code only:
 * a network errno, SQLSTATE class 08 or one of the retryable SQLSTATEs above. `pg` raises plain errors
 * without a code for a connection that ended or could not be made; the pool gives those SQLSTATE 08006
 * or 08001 (`markConnectionFailure`) where it knows the connection failed. Anything else, a plain
 * `Error` included (a bug, not an outage), is not retried.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || code === '') return false;
  if (NETWORK_CODES.has(code)) return true;
  return code.startsWith('08') || RETRYABLE_SQLSTATES.has(code);
}

/**
 * Gives an error that has no code of its own the SQLSTATE of a connection failure: 08006 (the
 * connection was lost while in use) or 08001 (it could not be made). Returns the error.
 */
export function markConnectionFailure(err: unknown, sqlstate: '08006' | '08001'): unknown {
  if (err instanceof Error && typeof (err as { code?: unknown }).code !== 'string') {
    Object.assign(err, { code: sqlstate });
  }
  return err;
}

export interface DatabaseRetryOptions {
  /** Longest total wait across the retries, in ms. Default 60000 (a server restart fits in it). */
  budgetMs?: number;
  /** First delay in ms; doubles on each retry. Default 200. */
  baseMs?: number;
  /** Longest single delay in ms. Default 5000. */
  maxDelayMs?: number;
  /** Told about each retry (the error and the delay before the next try). */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/**
 * Runs `fn` until it resolves, retrying transient database errors with exponential backoff while the
 * total wait stays within the budget; any other error, or the last transient one, is thrown.
 */
export async function retryDatabase<T>(fn: () => Promise<T>, options: DatabaseRetryOptions = {}): Promise<T> {
  const budget = options.budgetMs ?? 60_000;
  const maxDelay = options.maxDelayMs ?? 5000;
  let delay = options.baseMs ?? 200;
  let waited = 0;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDatabaseError(err) || waited >= budget) throw err;
      const ms = Math.min(delay, maxDelay, budget - waited);
      options.onRetry?.(err, ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
      waited += ms;
      delay *= 2;
    }
  }
}
