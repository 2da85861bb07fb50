/**
 * An import that stopped: every pending row of the run failed as `IMPORT_ABORTED` with the reason, and
 * the run `aborted` with its counters moved, and the usage figures (`failed_aborted`), in one statement.
 * A run no longer importing (cancelled meanwhile) is left as it is.
 */
import type { Queryable } from '../pool.js';

export interface AbortRun {
  runId: number;
  reason: string;
}

export async function abortRun(db: Queryable, p: AbortRun): Promise<void> {
  await db.query(
    `WITH failed AS (
       UPDATE run_items SET state = 'failed', error_code = 'IMPORT_ABORTED', error_message = $2, updated_at = now()
       WHERE run_id = $1 AND state = 'pending'
         AND EXISTS (SELECT 1 FROM runs WHERE id = $1 AND state = 'importing')
       RETURNING cust_space_id
     ), usage AS (
       INSERT INTO usage_counts AS u (day, cust_space_id, run_id, metric, n)
       SELECT (now() AT TIME ZONE 'UTC')::date, cust_space_id, $1, 'failed_aborted', count(*)
       FROM failed GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
       ON CONFLICT (day, cust_space_id, run_id, metric) DO UPDATE SET n = u.n + EXCLUDED.n
     )
     UPDATE runs SET state = 'aborted', pending = pending - f.n, failed = failed + f.n, finished_at = now()
     FROM (SELECT count(*) AS n FROM failed) f
     WHERE id = $1 AND state = 'importing'`,
    [p.runId, p.reason],
  );
}
