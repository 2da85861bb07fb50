/** The usage figures per UTC day and customer space since a day, oldest first (`cams-enrich usage`). */
import type { Queryable } from '../pool.js';

export interface UsageCount {
  day: string;
  custSpaceId: string;
  metric: string;
  n: number;
}

export interface UsageByDay {
  /** First UTC day included, `YYYY-MM-DD`. */
  since: string;
  /** Only this CustSpaceId. Default: every space. */
  custSpaceId?: string | undefined;
}

export async function usageByDay(db: Queryable, p: UsageByDay): Promise<UsageCount[]> {
  const { rows } = await db.query<{ day: string; cust_space_id: string; metric: string; n: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, cust_space_id, metric, sum(n) AS n
     FROM usage_counts
     WHERE day >= $1::date AND ($2::text IS NULL OR cust_space_id = $2)
     GROUP BY day, cust_space_id, metric
     ORDER BY day, cust_space_id, metric`,
    [p.since, p.custSpaceId ?? null],
  );
  return rows.map((r) => ({ day: r.day, custSpaceId: r.cust_space_id, metric: r.metric, n: Number(r.n) }));
}
