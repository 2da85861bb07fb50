/**
 * Rows of cancelled runs still pending but no longer queued: a number left pending by a cancel because
 * its call was in flight, whose job Redis then lost (the lost-job sweep unqueued it). Nothing feeds a
 * cancelled run, so they are cancelled here and counted with the run's other cancelled rows.
 */
import type { Queryable } from '../pool.js';

/** Returns the rows cancelled. */
export async function cancelLeftovers(db: Queryable, queue: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `WITH moved AS (
       UPDATE run_items i SET state = 'cancelled', updated_at = now()
       FROM runs r
       WHERE r.id = i.run_id AND r.queue = $1 AND r.state = 'cancelled' AND r.pending > 0
         AND i.state = 'pending' AND i.queued_at IS NULL
       RETURNING i.run_id
     ), per_run AS (
       SELECT run_id, count(*) AS n FROM moved GROUP BY run_id
     ), counted AS (
       UPDATE runs SET cancelled = runs.cancelled + p.n, pending = runs.pending - p.n
       FROM per_run p WHERE runs.id = p.run_id
       RETURNING p.n
     )
     SELECT coalesce(sum(n), 0) AS n FROM counted`,
    [queue],
  );
  return Number(rows[0]?.n ?? 0);
}
