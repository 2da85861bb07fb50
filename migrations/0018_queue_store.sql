-- The queue's store, and what the PostgreSQL store keeps besides BullMQ's own tables (schema bullmq).
--
-- queue_store: the one store this ledger's processes run the queue with ('redis' or 'postgres'),
-- recorded by the first process that starts on it; a process configured with the other refuses to
-- start, so two rate controllers never run side by side for one ledger. A ledger that already has runs
-- ran them on Redis, the only store before this one.
CREATE TABLE queue_store (
  singleton   boolean     PRIMARY KEY DEFAULT true CONSTRAINT queue_store_one_row CHECK (singleton),
  store       text        NOT NULL CONSTRAINT queue_store_store_check CHECK (store IN ('redis', 'postgres')),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO queue_store (store) SELECT 'redis' WHERE EXISTS (SELECT 1 FROM runs);

-- The PostgreSQL store's fleet metrics: each worker process's prom-client snapshot (JSON) with the
-- time it lapses (its heartbeat), and the counters of processes that stopped gracefully.
CREATE TABLE fleet_processes (
  queue      text        NOT NULL,
  id         text        NOT NULL,
  snapshot   text        NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (queue, id)
);
CREATE TABLE fleet_retired (
  queue    text PRIMARY KEY,
  snapshot text NOT NULL
);

-- The PostgreSQL store's record of the account a queue's workers call CAMS as.
CREATE TABLE queue_accounts (
  queue      text        PRIMARY KEY,
  account    text        NOT NULL,
  expires_at timestamptz NOT NULL
);

-- The PostgreSQL store's schedules kept aside while disabled (a schedules' queue's, by name): the
-- schedule's spec as JSON, as the Redis store keeps it in a hash.
CREATE TABLE disabled_schedules (
  queue text NOT NULL,
  name  text NOT NULL,
  spec  text NOT NULL,
  PRIMARY KEY (queue, name)
);
