/**
 * The feeder's claim, in one statement: the next pending, not yet queued rows of the queue's ready runs,
 * marked queued and returned, in the order the runs share the quota. Runs of a higher priority come
 * first; runs of one priority take turns, one row each (each run's rows in input order), so a run's
 * share does not depend on its size: a small run's rows are claimed beside a big one's from the first
 * claim after it is ready. `rotation` moves which run of a priority goes first from one claim to the
 * next, so a claim smaller than the number of runs does not always serve the same ones. Each priority
 * has a limit of its own (`perPriority`): the feeder's room for it, which lower priorities' jobs do not
 * fill, so a new high-priority run's rows are claimed at once whatever is buffered for others.
 *
 * Per ready run of this queue: other queues' rows and runs still importing are never read. The rows are
 * marked in this statement and the caller commits before it talks to Redis, so no row lock is held
 * while a job is added (a failed add is repaired by putting the rows back, or by the lost-job sweep).
 */
import type { Queryable } from '../pool.js';
import type { RunPriority } from '../runs.js';

export interface ClaimRowsToFeed {
  queue: string;
  /** Most rows claimed. */
  limit: number;
  /**
   * Most rows claimed for runs of each priority (`high`, `normal`, `low`): the room for them in the
   * buffer, which jobs of a lower priority do not take. Default: `limit` for each.
   */
  perPriority?: Readonly<Record<RunPriority, number>>;
  /** Any whole number; a different one each claim. */
  rotation: number;
}

export interface ClaimedRow {
  runId: number;
  custSpaceId: string;
  phoneNumber: string;
  priority: RunPriority;
}

export async function claimRowsToFeed(db: Queryable, p: ClaimRowsToFeed): Promise<ClaimedRow[]> {
  const { rows } = await db.query<{
    run_id: string;
    cust_space_id: string;
    phone_number: string;
    priority: RunPriority;
  }>(
    `WITH working AS (
       SELECT id, priority, CASE priority WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END AS rank,
              row_number() OVER (PARTITION BY priority ORDER BY id) AS pos,
              count(*) OVER (PARTITION BY priority) AS runs
       FROM runs WHERE queue = $1 AND state = 'ready' AND pending > 0
     ), ranked AS (
       SELECT i.run_id, i.cust_space_id, i.phone_number, w.priority, w.rank, i.turn,
              (w.pos + $3::bigint) % w.runs AS seat
       FROM working w
       CROSS JOIN LATERAL (
         SELECT run_id, cust_space_id, phone_number, row_number() OVER (ORDER BY line) AS turn
         FROM run_items
         WHERE run_id = w.id AND state = 'pending' AND queued_at IS NULL
         ORDER BY line
         LIMIT least($2, ($4::int[])[w.rank])
       ) i
     ), candidates AS (
       SELECT * FROM (
         SELECT r.*, row_number() OVER (PARTITION BY r.rank ORDER BY r.turn, r.seat) AS nth FROM ranked r
       ) n
       WHERE n.nth <= ($4::int[])[n.rank]
       ORDER BY n.rank, n.turn, n.seat
       LIMIT $2
     ), claimed AS (
       UPDATE run_items u SET queued_at = now()
       FROM candidates c
       WHERE u.run_id = c.run_id AND u.cust_space_id = c.cust_space_id AND u.phone_number = c.phone_number
         AND u.state = 'pending' AND u.queued_at IS NULL
       RETURNING u.run_id, u.cust_space_id, u.phone_number, c.priority, c.rank, c.turn, c.seat
     )
     SELECT run_id, cust_space_id, phone_number, priority FROM claimed ORDER BY rank, turn, seat`,
    [
      p.queue,
      p.limit,
      p.rotation,
      [p.perPriority?.high ?? p.limit, p.perPriority?.normal ?? p.limit, p.perPriority?.low ?? p.limit],
    ],
  );
  return rows.map((r) => ({
    runId: Number(r.run_id),
    custSpaceId: r.cust_space_id,
    phoneNumber: r.phone_number,
    priority: r.priority,
  }));
}
