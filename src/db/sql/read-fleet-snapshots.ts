/**
 * The queue's fleet metrics: the snapshots of live processes and the retired counters. Snapshots that
 * lapsed (a process killed without a goodbye) are deleted by the same statement.
 */
import type { Queryable } from '../pool.js';

export async function readFleetSnapshots(
  db: Queryable,
  queue: string,
): Promise<{ retired: string | null; live: string[] }> {
  const { rows } = await db.query<{ retired: string | null; live: string[] }>(
    `WITH lapsed AS (
       DELETE FROM fleet_processes WHERE queue = $1 AND expires_at <= clock_timestamp()
     )
     SELECT (SELECT snapshot FROM fleet_retired WHERE queue = $1) AS retired,
            ARRAY(SELECT snapshot FROM fleet_processes
                  WHERE queue = $1 AND expires_at > clock_timestamp() ORDER BY id) AS live`,
    [queue],
  );
  return rows[0] ?? { retired: null, live: [] };
}
