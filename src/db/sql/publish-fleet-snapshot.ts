/** A worker process's metrics snapshot (its heartbeat), kept until `ttlMs` after this publish. */
import type { Queryable } from '../pool.js';

export async function publishFleetSnapshot(
  db: Queryable,
  p: { queue: string; id: string; snapshot: string; ttlMs: number },
): Promise<void> {
  await db.query(
    `INSERT INTO fleet_processes (queue, id, snapshot, expires_at)
     VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')
     ON CONFLICT (queue, id) DO UPDATE SET snapshot = excluded.snapshot, expires_at = excluded.expires_at`,
    [p.queue, p.id, p.snapshot, p.ttlMs],
  );
}
