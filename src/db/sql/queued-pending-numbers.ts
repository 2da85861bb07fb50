/**
 * Lost jobs: the pending numbers handed to Redis, read in key order so `src/queue/lost-jobs.ts` can
 * check that each still has its job.
 */
import type { Queryable } from '../pool.js';

interface NumberKey {
  custSpaceId: string;
  phoneNumber: string;
}

/**
 * Distinct pending numbers of the queue's runs that were handed to Redis more than
 * `queuedBeforeSeconds` ago, in key order after `after`.
 */
export async function queuedPendingNumbers(
  db: Queryable,
  queue: string,
  limit: number,
  after?: NumberKey,
  queuedBeforeSeconds = 0,
): Promise<NumberKey[]> {
  const { rows } = await db.query<{ cust_space_id: string; phone_number: string }>(
    `SELECT DISTINCT i.cust_space_id, i.phone_number
     FROM run_items i JOIN runs r ON r.id = i.run_id
     WHERE r.queue = $1 AND i.state = 'pending' AND i.queued_at IS NOT NULL
       AND i.queued_at <= now() - make_interval(secs => $5)
       AND ($3::text IS NULL OR (i.cust_space_id, i.phone_number) > ($3::text, $4::text))
     ORDER BY i.cust_space_id, i.phone_number
     LIMIT $2`,
    [queue, limit, after?.custSpaceId ?? null, after?.phoneNumber ?? null, queuedBeforeSeconds],
  );
  return rows.map((r) => ({ custSpaceId: r.cust_space_id, phoneNumber: r.phone_number }));
}
