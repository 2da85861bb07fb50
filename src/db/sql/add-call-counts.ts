/**
 * Requests to CAMS that settle nothing (a throttle, a failure that will be retried, an account refusal, a
 * `lookup`), added to the usage figures in one statement, each for the run it was made for (run 0 for
 * none, like a lookup). Rows are written in key order, like every statement that adds to usage_counts.
 */
import type { Queryable } from '../pool.js';

export interface CallCount {
  /** UTC day of the requests, `YYYY-MM-DD`. */
  day: string;
  custSpaceId: string;
  /** The run the requests were made for; 0 for none. */
  runId: number;
  metric: 'calls' | 'throttled' | 'lookups';
  n: number;
}

export async function addCallCounts(db: Queryable, counts: readonly CallCount[]): Promise<void> {
  if (counts.length === 0) return;
  await db.query(
    `INSERT INTO usage_counts AS u (day, cust_space_id, run_id, metric, n)
     SELECT t.day, t.cust_space_id, t.run_id, t.metric, sum(t.n)
     FROM unnest($1::date[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])
       AS t(day, cust_space_id, run_id, metric, n)
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
     ON CONFLICT (day, cust_space_id, run_id, metric) DO UPDATE SET n = u.n + EXCLUDED.n`,
    [
      counts.map((c) => c.day),
      counts.map((c) => c.custSpaceId),
      counts.map((c) => c.runId),
      counts.map((c) => c.metric),
      counts.map((c) => c.n),
    ],
  );
}
