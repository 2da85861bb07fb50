-- What each customer space used, per UTC day and per run, kept apart from the per-number rows so it
-- stays after `prune`. One row per (day, space, run, metric), its count added to in the same
-- transaction as the outcome it counts where there is one (a settled number, an import's chunk), and
-- in small batches for the calls that settle nothing (a throttle, a retried failure). run_id 0 holds
-- what belongs to no run (a `lookup`, a call for a number no run waited for any more).
--
-- Metrics: calls (requests a worker sent to CAMS, throttled and retried ones included), throttled (of
-- those, answered with a throttle), lookups (requests sent by `lookup`), saved_fresh (rows settled from
-- a stored answer still fresh, without a request of their own), saved_duplicate (rows repeating a
-- number already in the run), enriched (rows enriched), failed_<classification> (rows failed:
-- permanent when CAMS refused the number, transient after the last retry, throttled when throttled too
-- often, aborted when the import stopped, other for anything else).
CREATE TABLE usage_counts (
  day           date   NOT NULL,
  cust_space_id text   NOT NULL,
  run_id        bigint NOT NULL,
  metric        text   NOT NULL,
  n             bigint NOT NULL,
  PRIMARY KEY (day, cust_space_id, run_id, metric)
);

-- `status` reads a run's figures.
CREATE INDEX usage_counts_run ON usage_counts (run_id);
