/**
 * The first pending numbers of a run not yet handed to the queue, in line order (through the feeder's
 * own index, so a run of millions of rows costs the same); the caller masks them.
 */
import type { Queryable } from '../pool.js';

export interface PendingLine {
  line: number;
  custSpaceId: string;
  phoneNumber: string;
}

export async function pendingSample(db: Queryable, runId: number, limit: number): Promise<PendingLine[]> {
  const { rows } = await db.query<{ line: string; cust_space_id: string; phone_number: string }>(
    `SELECT line, cust_space_id, phone_number FROM run_items
     WHERE run_id = $1 AND state = 'pending' AND queued_at IS NULL ORDER BY line LIMIT $2`,
    [runId, limit],
  );
  return rows.map((r) => ({
    line: Number(r.line),
    custSpaceId: r.cust_space_id,
    phoneNumber: r.phone_number,
  }));
}
