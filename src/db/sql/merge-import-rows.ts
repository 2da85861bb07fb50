/**
 * One chunk of an import, already in the session's staging table, merged into the ledger by one
 * statement: rejects are kept with their reason; each accepted number becomes a run item whose state the
 * freshness rule decides (skipped when a stored profile is fresher than the run's max age, failed with the
 * stored answer when CAMS refused the number itself more recently than that, else pending); a number
 * already in the run counts as duplicate, its first line kept and the duplicate's own line and number
 * recorded in run_duplicates (so every input row can be told back); the run's counters move with the
 * rows, and the space's usage figures with them (calls saved: fresh answers and duplicates).
 */
import type { Queryable } from '../pool.js';
import { STAGING_TABLE } from './stage-import-rows.js';

export interface MergeImportRows {
  runId: number;
  /** Accepted rows in the staging table (reason NULL). */
  accepted: number;
  /** Rejected rows in the staging table. */
  rejected: number;
}

/**
 * Returns false, having changed no counter, when the run is no longer importing (it was cancelled): the
 * caller rolls the chunk back.
 */
export async function mergeImportRows(db: Queryable, p: MergeImportRows): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH rejected AS (
       INSERT INTO run_rejects (run_id, line, raw, reason)
       SELECT $1, s.line, s.raw, s.reason FROM ${STAGING_TABLE} s WHERE s.reason IS NOT NULL
       ON CONFLICT DO NOTHING
     ), inserted AS (
       INSERT INTO run_items (run_id, cust_space_id, phone_number, line, state, error_code, error_message)
       SELECT $1, s.cust_space_id, s.phone_number, s.line, fresh.state,
              CASE WHEN fresh.state = 'failed' THEN nf.error_code END,
              CASE WHEN fresh.state = 'failed' THEN nf.error_message END
       FROM ${STAGING_TABLE} s
       JOIN runs r ON r.id = $1
       LEFT JOIN business_profiles bp
         ON bp.cust_space_id = s.cust_space_id AND bp.phone_number = s.phone_number
       LEFT JOIN number_failures nf
         ON nf.cust_space_id = s.cust_space_id AND nf.phone_number = s.phone_number
       CROSS JOIN LATERAL (
         SELECT CASE WHEN bp.fetched_at > now() - r.max_age THEN 'skipped'
                     WHEN nf.failed_at > now() - r.max_age THEN 'failed'
                     ELSE 'pending' END AS state
       ) fresh
       WHERE s.reason IS NULL
       ORDER BY s.line
       ON CONFLICT DO NOTHING
       RETURNING line, cust_space_id, state
     ), duplicates AS (
       INSERT INTO run_duplicates (run_id, line, cust_space_id, phone_number)
       SELECT $1, s.line, s.cust_space_id, s.phone_number
       FROM ${STAGING_TABLE} s
       -- NOT IN over the inserted lines is one hashed subplan; NOT EXISTS planned a loop over them per row.
       WHERE s.reason IS NULL AND s.line NOT IN (SELECT line FROM inserted)
       RETURNING cust_space_id
     ), usage AS (
       -- Written after the run's row is updated (the statement's own UPDATE runs first), as settling does.
       INSERT INTO usage_counts AS u (day, cust_space_id, run_id, metric, n)
       SELECT (now() AT TIME ZONE 'UTC')::date, cust_space_id, $1, metric, count(*)
       FROM (
         SELECT cust_space_id, 'saved_fresh' AS metric FROM inserted WHERE state IN ('skipped', 'failed')
         UNION ALL
         SELECT cust_space_id, 'failed_permanent' FROM inserted WHERE state = 'failed'
         UNION ALL
         SELECT cust_space_id, 'saved_duplicate' FROM duplicates
       ) x
       GROUP BY 1, 2, 3, 4
       ORDER BY 1, 2, 3, 4
       ON CONFLICT (day, cust_space_id, run_id, metric) DO UPDATE SET n = u.n + EXCLUDED.n
     ), counted AS (
       SELECT count(*) FILTER (WHERE state = 'skipped') AS skipped,
              count(*) FILTER (WHERE state = 'failed') AS failed,
              count(*) FILTER (WHERE state = 'pending') AS pending,
              count(*) AS inserted
       FROM inserted
     )
     UPDATE runs SET
       total = total + $2::bigint + $3::bigint,
       invalid = invalid + $3::bigint,
       duplicate = duplicate + ($2::bigint - counted.inserted),
       skipped = runs.skipped + counted.skipped,
       failed = runs.failed + counted.failed,
       pending = runs.pending + counted.pending
     FROM counted
     WHERE runs.id = $1 AND runs.state = 'importing'`,
    [p.runId, p.accepted, p.rejected],
  );
  return (rowCount ?? 0) > 0;
}
