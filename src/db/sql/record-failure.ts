/**
 * A final failure of a number, in one statement: every pending row of it (in any run) failed with the
 * code and message, and their runs' counters moved. With `remember`, the answer concerns the number
 * itself (CAMS refused it) and is kept in number_failures, so later runs within their max age fail it
 * without a call.
 */
import type { Queryable } from '../pool.js';
import type { Settled } from './settle-number.js';
import { MOVE_RUN_COUNTERS, SETTLED } from './settle-number.js';

export interface RecordFailure {
  custSpaceId: string;
  phoneNumber: string;
  code: string;
  message: string;
  remember: boolean;
}

/** Returns the run rows settled. */
export async function recordFailure(db: Queryable, p: RecordFailure): Promise<number> {
  const { rows } = await db.query<Settled>(
    `WITH remembered AS (
       INSERT INTO number_failures (cust_space_id, phone_number, error_code, error_message)
       SELECT $1, $2, $3, $4 WHERE $5::boolean
       ON CONFLICT (cust_space_id, phone_number) DO UPDATE SET
         error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, failed_at = now()
     ), moved AS (
       UPDATE run_items SET state = 'failed', error_code = $3, error_message = $4, updated_at = now()
       WHERE cust_space_id = $1 AND phone_number = $2 AND state = 'pending'
       RETURNING run_id, state
     ), ${MOVE_RUN_COUNTERS}
     ${SETTLED}`,
    [p.custSpaceId, p.phoneNumber, p.code, p.message, p.remember],
  );
  return rows[0]?.settled ?? 0;
}
