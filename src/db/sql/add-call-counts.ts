/**
 * Requests to CAMS that settle nothing (a throttle, a failure that will be retried, an account refusal, a
 * `lookup`), added to the usage figures in one statement. Each is counted for the oldest run that still
 * waits for its number, or run 0 when none does (or it has no number in a run, like a lookup). Rows are
 * written in key order, like every statement that adds to usage_counts.
 */
import type { Queryable } from '../pool.js';

export interface CallCount {
  /** UTC day of the requests, `YYYY-MM-DD`. */
  day: string;
  custSpaceId: string;
  /** The number, to find its run; null for none (a lookup). */
  phoneNumber: string | null;
  metric: 'calls' | 'throttled' | 'lookups';
  n: number;
}

export async function addCallCounts(db: Queryable, counts: readonly CallCount[]): Promise<void> {
  if (counts.length === 0) return;
  await db.query(
    `INSERT INTO usage_counts AS u (day, cust_space_id, run_id, metric, n)
     SELECT t.day, t.cust_space_id, coalesce(w.run_id, 0), t.metric, sum(t.n)
     FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[])
       AS t(day, cust_space_id, phone_number, metric, n)
     LEFT JOIN LATERAL (
       SELECT min(i.run_id) AS run_id FROM run_items i
       WHERE i.cust_space_id = t.cust_space_id AND i.phone_number = t.phone_number AND i.state = 'pending'
     ) w ON t.phone_number IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
     ON CONFLICT (day, cust_space_id, run_id, metric) DO UPDATE SET n = u.n + EXCLUDED.n`,
    [
      counts.map((c) => c.day),
      counts.map((c) => c.custSpaceId),
      counts.map((c) => c.phoneNumber),
      counts.map((c) => c.metric),
      counts.map((c) => c.n),
    ],
  );
}
