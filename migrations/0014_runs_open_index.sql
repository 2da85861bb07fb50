--! no-transaction
-- A queue's open runs among the 100 000s of finished ones: the runs with work (state ready, pending > 0)
-- have no finished_at, and the runs settled in the last seconds have a recent one, which `status`, the
-- dashboard's runs list and the ETAs read on every refresh. finished_at is set once in a run's life, so
-- the counters' updates stay HOT. A no-op once done.
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_by_queue_finished ON :LEDGER_SCHEMA.runs (queue, finished_at);
