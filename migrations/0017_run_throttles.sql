-- Throttles of a run second by second, for the run's timeline in the dashboard: one row per run and
-- second that had any, added to once a second by each worker (with the usage counts), so a run that is
-- never throttled costs nothing. Removed with the run.
CREATE TABLE run_throttles (
  run_id bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  second timestamptz NOT NULL,
  n      integer     NOT NULL,
  PRIMARY KEY (run_id, second)
);
