-- What the queue's admins did, through the CLI or the dashboard: one row per action (cancel, priority,
-- pause, resume, retry-failed, schedule-enable, schedule-disable, schedule-run), kept for good (no
-- foreign key: a run's entries outlive its per-number rows). run_id and schedule name the target when
-- there is one; details holds the action's arguments and result (never a secret, numbers masked);
-- actor is where it came from: the dashboard client's address, or the CLI's user@host.
CREATE TABLE audit_log (
  id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  queue     text        NOT NULL,
  action    text        NOT NULL CHECK (action IN ('cancel', 'priority', 'pause', 'resume', 'retry-failed',
                                                   'schedule-enable', 'schedule-disable', 'schedule-run')),
  run_id    bigint,
  schedule  text,
  details   jsonb       NOT NULL DEFAULT '{}',
  actor     text        NOT NULL,
  via       text        NOT NULL CHECK (via IN ('cli', 'dashboard'))
);

-- A run's entries, newest first (the run page); a queue's, newest first.
CREATE INDEX audit_log_run ON audit_log (run_id, id DESC) WHERE run_id IS NOT NULL;
CREATE INDEX audit_log_queue ON audit_log (queue, id DESC);
