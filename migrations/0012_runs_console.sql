--! no-transaction
-- The console's runs list: one page of a queue's runs, newest first, filtered by phase, source, space
-- or priority, with the number that match. `space` is the customer space every row of the run was
-- imported for (`--space`), NULL when the rows carry their own. The index serves the pages of one
-- queue in id order however many runs the ledger holds; it names only columns that never change, so
-- the counters' updates stay HOT. Each statement is a no-op once done.
ALTER TABLE :LEDGER_SCHEMA.runs ADD COLUMN IF NOT EXISTS space text;

CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_by_queue ON :LEDGER_SCHEMA.runs (queue, id);
