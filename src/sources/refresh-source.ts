/**
 * The refresh source: the numbers of the ledger worth fetching again. Those whose stored profile was
 * fetched before the cut-off, and those whose last failed call failed for a transient reason (as
 * `classifyCamsError` classifies its code) with no profile stored since. Read like any database
 * source: a cursor inside a READ ONLY transaction, so memory stays flat.
 */
import type pg from 'pg';
import { classifyCamsError } from '../cams/cams-error.js';
import type { DbRow } from './db-source.js';
import { streamRows } from './db-source.js';

export interface RefreshSourceOptions {
  /** Profiles fetched more than this many ms ago are stale. */
  olderThanMs: number;
  /** Only this CustSpaceId. Default: every space. */
  space?: string | undefined;
  /** Rows per cursor round trip. Default 1000. */
  batchSize?: number | undefined;
}

/**
 * Codes a final failure may carry that are not the answer of a call: the import that held the number
 * stopped before any call was made.
 */
const NOT_CALL_FAILURES = ['IMPORT_ABORTED'];

/** Whether a failed number's code says the call may well succeed when tried again. */
export function isTransientFailure(code: string): boolean {
  return (
    !NOT_CALL_FAILURES.includes(code) && classifyCamsError(code, undefined).classification !== 'permanent'
  );
}

const STALE_NUMBERS = `
  WITH stale AS (
    SELECT cust_space_id, phone_number FROM business_profiles
    WHERE fetched_at < now() - make_interval(secs => $1::float8 / 1000)
      AND ($2::text IS NULL OR cust_space_id = $2)
  ), last_failure AS (
    SELECT DISTINCT ON (cust_space_id, phone_number) cust_space_id, phone_number, error_code, failed_at
    FROM failed_numbers
    WHERE ($2::text IS NULL OR cust_space_id = $2) AND error_code <> ALL ($4::text[])
    ORDER BY cust_space_id, phone_number, failed_at DESC
  ), retry AS (
    SELECT f.cust_space_id, f.phone_number FROM last_failure f
    WHERE f.error_code = ANY ($3::text[])
      AND NOT EXISTS (
        SELECT 1 FROM business_profiles bp
        WHERE bp.cust_space_id = f.cust_space_id AND bp.phone_number = f.phone_number
          AND bp.fetched_at >= f.failed_at)
  )
  SELECT phone_number AS phone, cust_space_id AS space FROM stale
  UNION
  SELECT phone_number, cust_space_id FROM retry`;

/**
 * Reads the numbers to refresh through `client` (a client of the ledger's pool, used by nothing else
 * meanwhile), in a READ ONLY transaction ended when the loop ends or breaks.
 */
export async function* readStaleNumbers(
  client: pg.ClientBase,
  options: RefreshSourceOptions,
): AsyncIterable<DbRow> {
  await client.query('BEGIN TRANSACTION READ ONLY');
  // A streaming read waits for its consumer between batches: the pool's idle-in-transaction timeout
  // must not end it.
  await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
  try {
    const { rows } = await client.query<{ error_code: string }>(
      `SELECT DISTINCT error_code FROM failed_numbers WHERE error_code IS NOT NULL`,
    );
    const transient = rows.map((r) => r.error_code).filter(isTransientFailure);
    yield* streamRows(
      client,
      STALE_NUMBERS,
      [options.olderThanMs, options.space ?? null, transient, NOT_CALL_FAILURES],
      { label: 'refresh' },
      options.batchSize ?? 1000,
    );
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}
