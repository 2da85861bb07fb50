/** The metrics snapshot of each live worker process of the queue (its heartbeat not lapsed), by id. */
import type { Queryable } from '../pool.js';

export async function readLiveSnapshots(
  db: Queryable,
  queue: string,
): Promise<Array<{ id: string; snapshot: string }>> {
  const { rows } = await db.query<{ id: string; snapshot: string }>(
    `SELECT id, snapshot FROM fleet_processes
     WHERE queue = $1 AND expires_at > clock_timestamp() ORDER BY id`,
    [queue],
  );
  return rows;
}
