-- One row per tick of a schedule (`cams-enrich schedule add`), written by the worker that took the
-- tick's job: the run it started, or why it started none (the schedule's previous run still had
-- pending numbers, or the command failed). job_id is BullMQ's id of the tick's job, one per tick, so a
-- tick delivered again is recognised.
CREATE TABLE schedule_ticks (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schedule    text        NOT NULL,
  job_id      text        NOT NULL UNIQUE,
  tick_at     timestamptz NOT NULL,
  -- running: the command is being carried out; started: it made run run_id; skipped: run_id (the
  -- schedule's previous run) was still pending; failed: see message; done: a command with no run (prune).
  outcome     text        NOT NULL CHECK (outcome IN ('running', 'started', 'skipped', 'failed', 'done')),
  run_id      bigint      REFERENCES runs (id) ON DELETE SET NULL,
  message     text,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX schedule_ticks_latest ON schedule_ticks (schedule, id DESC);
