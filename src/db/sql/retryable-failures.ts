/**
 * A page of a run's failed numbers whose code is one of `codes`, in key order after (`afterSpace`,
 * `afterPhone`): read page by page along run_items' primary key, so a run of millions of rows is never
 * sorted whole.
 */
import type { Queryable } from '../pool.js';

export interface RetryableFailures {
  runId: number;
  codes: string[];
  /** The key of the last row of the previous page; null for the first page. */
  after: { space: string; phone: string } | null;
  limit: number;
}

export interface FailedItem {
  space: string;
  phone: string;
}

export async function retryableFailures(db: Queryable, p: RetryableFailures): Promise<FailedItem[]> {
  const { rows } = await db.query<FailedItem>(
    `SELECT cust_space_id AS space, phone_number AS phone FROM run_items
     WHERE run_id = $1 AND state = 'failed' AND error_code = ANY ($2::text[])
       AND ($3::text IS NULL OR (cust_space_id, phone_number) > ($3, $4::text))
     ORDER BY cust_space_id, phone_number LIMIT $5`,
    [p.runId, p.codes, p.after?.space ?? null, p.after?.phone ?? null, p.limit],
  );
  return rows;
}
