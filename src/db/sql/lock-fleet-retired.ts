/**
 * The queue's retired counters, locked until the transaction ends (the row made empty first when
 * there is none), so processes stopping at once add theirs in turn.
 */
import type { Queryable } from '../pool.js';

/** The retired snapshot's JSON; `'[]'` when no process retired yet. */
export async function lockFleetRetired(db: Queryable, queue: string): Promise<string> {
  const { rows } = await db.query<{ snapshot: string }>(
    `INSERT INTO fleet_retired (queue, snapshot) VALUES ($1, '[]')
     ON CONFLICT (queue) DO UPDATE SET snapshot = fleet_retired.snapshot
     RETURNING snapshot`,
    [queue],
  );
  return rows[0]?.snapshot ?? '[]';
}
