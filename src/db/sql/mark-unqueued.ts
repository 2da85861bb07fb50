/**
 * Lost jobs: the pending rows of numbers whose job is no longer in Redis (Redis restarted without
 * persistence, a flush, a lost key) marked unqueued, so the feeder puts them back.
 */
import type { Queryable } from '../pool.js';

interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

/** Marks the numbers' pending rows as not queued; returns the rows changed. */
export async function markUnqueued(
  db: Queryable,
  queue: string,
  keys: readonly NumberKey[],
): Promise<number> {
  if (keys.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE run_items i SET queued_at = NULL
     FROM unnest($2::text[], $3::text[]) AS t(cust_space_id, phone_number), runs r
     WHERE r.id = i.run_id AND r.queue = $1 AND i.state = 'pending'
       AND i.cust_space_id = t.cust_space_id AND i.phone_number = t.phone_number`,
    [queue, keys.map((k) => k.custSpaceId), keys.map((k) => k.phoneNumber)],
  );
  return rowCount ?? 0;
}
