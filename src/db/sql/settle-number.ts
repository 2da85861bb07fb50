/**
 * The CTEs every settling statement shares: given a CTE `moved` (run items just moved out of `pending`,
 * as `run_id, state`), move each run's counters with them; `counted` returns one row per run with `n`.
 * The runs are locked in id order before their counters change, so statements settling numbers of the
 * same runs never deadlock. Plain SQL with no parameters of its own: each statement file owns its `$n`.
 */
export const MOVE_RUN_COUNTERS = `
  per_run AS (
    SELECT run_id, count(*) AS n,
           count(*) FILTER (WHERE state = 'enriched') AS enriched,
           count(*) FILTER (WHERE state = 'skipped') AS skipped,
           count(*) FILTER (WHERE state = 'failed') AS failed
    FROM moved GROUP BY run_id
  ), locked AS MATERIALIZED (
    SELECT r.id FROM runs r WHERE r.id IN (SELECT run_id FROM per_run) ORDER BY r.id FOR NO KEY UPDATE
  ), counted AS (
    UPDATE runs SET
      pending = runs.pending - p.n, enriched = runs.enriched + p.enriched, skipped = runs.skipped + p.skipped,
      failed = runs.failed + p.failed,
      finished_at = CASE WHEN runs.pending - p.n = 0 AND runs.state = 'ready' THEN now() ELSE runs.finished_at END
    FROM per_run p
    WHERE runs.id = p.run_id AND runs.id IN (SELECT id FROM locked)
    RETURNING p.n
  )`;

/** The final SELECT of a settling statement that settles one number. */
export const SETTLED = 'SELECT coalesce(sum(n), 0)::int AS settled FROM counted';

export interface Settled {
  settled: number;
}
