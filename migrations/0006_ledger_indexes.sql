--! no-transaction
-- Indexes that keep the workers' periodic queries fast however many rows other runs hold. Built
-- concurrently, outside a transaction, so upgrading a ledger of millions of run_items never blocks the
-- workers' writes; each statement is a no-op once done, so an interrupted build simply runs again.
-- (Ledgers that applied this migration when it ran in a transaction have the same indexes.)
--
-- The lost-job sweep reads the pending numbers already handed to Redis: at most the high-water mark
-- per queue, so a partial index over just those rows stays small while run_items grows to millions.
CREATE INDEX CONCURRENTLY IF NOT EXISTS run_items_queued_pending ON :LEDGER_SCHEMA.run_items (cust_space_id, phone_number)
  WHERE state = 'pending' AND queued_at IS NOT NULL;

-- The feeder looks up the ready runs of its queue, then reads each run's rows through run_items_to_feed.
-- (Only columns that rarely change: the counters move on every settle and must stay HOT updates.)
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_ready_by_queue ON :LEDGER_SCHEMA.runs (queue, id) WHERE state = 'ready';
