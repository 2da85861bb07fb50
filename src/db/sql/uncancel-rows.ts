/**
 * Puts back to pending the rows a cancel of the run had just cancelled for numbers whose job a worker
 * took meanwhile (its call may be under way: it keeps its real outcome), with the run's counters.
 * Returns the rows put back.
 */
import type { Queryable } from '../pool.js';

export interface UncancelRows {
  runId: number;
  numbers: ReadonlyArray<{ custSpaceId: string; phoneNumber: string }>;
}

export async function uncancelRows(db: Queryable, p: UncancelRows): Promise<number> {
  if (p.numbers.length === 0) return 0;
  const { rows } = await db.query<{ n: string }>(
    `WITH moved AS (
       UPDATE run_items i SET state = 'pending', updated_at = now()
       FROM unnest($2::text[], $3::text[]) AS t(cust_space_id, phone_number)
       WHERE i.run_id = $1 AND i.state = 'cancelled'
         AND i.cust_space_id = t.cust_space_id AND i.phone_number = t.phone_number
       RETURNING 1
     ), counted AS (
       UPDATE runs SET cancelled = cancelled - m.n, pending = pending + m.n
       FROM (SELECT count(*) AS n FROM moved) m
       WHERE runs.id = $1 AND m.n > 0
       RETURNING m.n
     )
     SELECT coalesce(sum(n), 0) AS n FROM counted`,
    [p.runId, p.numbers.map((k) => k.custSpaceId), p.numbers.map((k) => k.phoneNumber)],
  );
  return Number(rows[0]?.n ?? 0);
}
