/**
 * Lost jobs, the ledger's side: numbers marked queued whose job is no longer in Redis (Redis restarted
 * without persistence, a flush, a lost key) are marked unqueued so the feeder puts them back
 * (`src/queue/lost-jobs.ts` checks Redis).
 */
import type { Queryable } from './pool.js';
import type { NumberKey } from './ledger.js';

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
