-- Runs share the quota by priority, and a run can be cancelled.
--
-- priority: the feeder serves ready runs of a higher priority first and runs of one priority in
-- turns. cancelled: a terminal counter, like enriched and failed, for the numbers a cancel took out of
-- the run; a cancelled run ends in state 'cancelled'. A run item cancelled is in state 'cancelled'.
ALTER TABLE runs ADD COLUMN priority text NOT NULL DEFAULT 'normal'
  CONSTRAINT runs_priority_check CHECK (priority IN ('high', 'normal', 'low'));
ALTER TABLE runs ADD COLUMN cancelled bigint NOT NULL DEFAULT 0;

ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
  CHECK (state IN ('importing', 'ready', 'aborted', 'cancelled'));

ALTER TABLE runs DROP CONSTRAINT runs_accounting;
ALTER TABLE runs ADD CONSTRAINT runs_accounting
  CHECK (total = invalid + duplicate + skipped + enriched + failed + cancelled + pending);

ALTER TABLE runs DROP CONSTRAINT runs_counters_non_negative;
ALTER TABLE runs ADD CONSTRAINT runs_counters_non_negative CHECK (
  invalid >= 0 AND duplicate >= 0 AND skipped >= 0 AND enriched >= 0 AND failed >= 0 AND cancelled >= 0
  AND pending >= 0);

-- The new check only widens the old one, so every existing row satisfies it: it is added without a
-- scan of run_items (millions of rows, locked for writes while scanned), and holds for every new row.
ALTER TABLE run_items DROP CONSTRAINT run_items_state_check;
ALTER TABLE run_items ADD CONSTRAINT run_items_state_check
  CHECK (state IN ('pending', 'skipped', 'enriched', 'failed', 'cancelled')) NOT VALID;

-- One feeder per queue at a time: a lease, taken and given back by single statements, so it holds
-- through PgBouncer's transaction pooling and is never held across a call to Redis in a transaction.
-- A feeder that died leaves a lease that runs out by itself.
CREATE TABLE feed_leases (
  queue  text        PRIMARY KEY,
  holder text        NOT NULL,
  until  timestamptz NOT NULL
);
