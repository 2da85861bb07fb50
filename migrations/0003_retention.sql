-- Retention: `cams-enrich prune` deletes the per-number rows (run_items, run_rejects) of runs that
-- finished long ago and stamps pruned_at; the run and its counters stay.
ALTER TABLE runs ADD COLUMN pruned_at timestamptz;

-- What prune looks for: finished runs not yet pruned.
CREATE INDEX runs_to_prune ON runs (finished_at) WHERE pruned_at IS NULL AND finished_at IS NOT NULL;
