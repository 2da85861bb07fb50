/**
 * Puts rows the feeder claimed back to feed (their add to Redis failed): pending rows only, so a row
 * settled meanwhile stays settled.
 */
import type { Queryable } from '../pool.js';

export interface ClaimedKey {
  runId: number;
  custSpaceId: string;
  phoneNumber: string;
}

/** Returns the rows put back. */
export async function unclaimRows(db: Queryable, rows: readonly ClaimedKey[]): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE run_items i SET queued_at = NULL
     FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(run_id, cust_space_id, phone_number)
     WHERE i.run_id = t.run_id AND i.cust_space_id = t.cust_space_id AND i.phone_number = t.phone_number
       AND i.state = 'pending'`,
    [rows.map((r) => r.runId), rows.map((r) => r.custSpaceId), rows.map((r) => r.phoneNumber)],
  );
  return rowCount ?? 0;
}
