/** Worker processes of the queue whose heartbeat (metrics snapshot) has not lapsed, on the server's clock. */
import type { Queryable } from '../pool.js';

export async function countLiveProcesses(db: Queryable, queue: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM fleet_processes WHERE queue = $1 AND expires_at > clock_timestamp()',
    [queue],
  );
  return rows[0]?.n ?? 0;
}
