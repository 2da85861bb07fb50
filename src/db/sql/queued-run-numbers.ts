/**
 * The numbers of a run handed to Redis and still pending, each with the priority its job should carry:
 * the highest of the ready runs that wait for it (a number two runs wait for is served by one job, at
 * the better of their priorities). Read when a run's priority changes, to move its buffered jobs.
 */
import type { Queryable } from '../pool.js';
import type { RunPriority } from './read-runs.js';

export interface QueuedRunNumber {
  custSpaceId: string;
  phoneNumber: string;
  priority: RunPriority;
}

export async function queuedRunNumbers(db: Queryable, p: { runId: number }): Promise<QueuedRunNumber[]> {
  const { rows } = await db.query<{ cust_space_id: string; phone_number: string; priority: RunPriority }>(
    `SELECT i.cust_space_id, i.phone_number,
            (SELECT (ARRAY['high', 'normal', 'low'])[min(CASE r.priority WHEN 'high' THEN 1
                                                                         WHEN 'normal' THEN 2 ELSE 3 END)]
             FROM run_items o JOIN runs r ON r.id = o.run_id
             WHERE o.cust_space_id = i.cust_space_id AND o.phone_number = i.phone_number
               AND o.state = 'pending' AND r.state = 'ready') AS priority
     FROM run_items i
     WHERE i.run_id = $1 AND i.state = 'pending' AND i.queued_at IS NOT NULL`,
    [p.runId],
  );
  return rows
    .filter((r) => r.priority !== null)
    .map((r) => ({ custSpaceId: r.cust_space_id, phoneNumber: r.phone_number, priority: r.priority }));
}
