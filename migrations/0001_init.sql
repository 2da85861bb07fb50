-- cams-enrich schema, version 1.
--
-- business_profiles is the public face for CRM queries, in public. runs and run_items are the
-- ledger of record: one row per number per run, with its state, in the ledger's own schema (the first
-- on the search_path migrations run with). Redis only buffers work that can be rebuilt from run_items.

CREATE TABLE public.business_profiles (
  cust_space_id       text        NOT NULL,
  phone_number        text        NOT NULL,
  vertical            text,
  description         text,
  email               text,
  address             text,
  profile_picture_url text,
  websites            text[]      NOT NULL DEFAULT '{}',
  about               text,
  request_id          text,
  fetched_at          timestamptz NOT NULL DEFAULT now(),
  raw                 jsonb,
  PRIMARY KEY (cust_space_id, phone_number)
);

CREATE INDEX business_profiles_fetched_at ON public.business_profiles (fetched_at);

-- One run = one import (CSV, database, refresh, schedule). Its counters are updated in the same
-- transaction as the rows they count, and the CHECK keeps the accounting invariant at every commit.
CREATE TABLE runs (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue       text        NOT NULL,
  source      text        NOT NULL,
  -- importing: rows are still being recorded, nothing is queued yet; ready: fed to the queue;
  -- aborted: the import stopped on bad input, its accepted rows were failed with IMPORT_ABORTED.
  state       text        NOT NULL DEFAULT 'importing' CHECK (state IN ('importing', 'ready', 'aborted')),
  max_age     interval    NOT NULL,
  total       bigint      NOT NULL DEFAULT 0,
  invalid     bigint      NOT NULL DEFAULT 0,
  duplicate   bigint      NOT NULL DEFAULT 0,
  skipped     bigint      NOT NULL DEFAULT 0,
  enriched    bigint      NOT NULL DEFAULT 0,
  failed      bigint      NOT NULL DEFAULT 0,
  pending     bigint      NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT runs_accounting CHECK (total = invalid + duplicate + skipped + enriched + failed + pending),
  CONSTRAINT runs_counters_non_negative CHECK (
    invalid >= 0 AND duplicate >= 0 AND skipped >= 0 AND enriched >= 0 AND failed >= 0 AND pending >= 0)
);

CREATE TABLE run_items (
  run_id        bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  cust_space_id text        NOT NULL,
  phone_number  text        NOT NULL,
  -- Line of the CSV (or row number of the query) the number first appeared on.
  line          bigint      NOT NULL,
  state         text        NOT NULL CHECK (state IN ('pending', 'skipped', 'enriched', 'failed')),
  -- Set when the number was put into the Redis work buffer; NULL means "still to feed".
  queued_at     timestamptz,
  error_code    text,
  error_message text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, cust_space_id, phone_number)
);

-- What the feeder reads: pending numbers not yet in Redis, oldest run first, file order.
CREATE INDEX run_items_to_feed ON run_items (run_id, line) WHERE state = 'pending' AND queued_at IS NULL;
-- What a worker touches when a number is done: every pending row of that number, in any run.
CREATE INDEX run_items_pending_number ON run_items (cust_space_id, phone_number) WHERE state = 'pending';
-- Recent completions, for the rate and ETA.
CREATE INDEX run_items_done_recently ON run_items (run_id, updated_at) WHERE state IN ('enriched', 'failed');

-- Rows that were not valid numbers, with their line and reason (the rejects file holds the same).
CREATE TABLE run_rejects (
  run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  line   bigint NOT NULL,
  raw    text   NOT NULL,
  reason text   NOT NULL,
  PRIMARY KEY (run_id, line)
);

-- An account-wide failure (unsubscribed product, denied permission, bad credentials) pauses the
-- queue; the reason is kept here for `status` until `resume` clears it.
CREATE TABLE queue_alerts (
  queue      text        PRIMARY KEY,
  code       text        NOT NULL,
  message    text        NOT NULL,
  raised_at  timestamptz NOT NULL DEFAULT now()
);

-- Every number of a run that finally failed, with its error code and message.
CREATE VIEW public.failed_numbers AS
  SELECT run_id, cust_space_id, phone_number, line, error_code, error_message, updated_at AS failed_at
  FROM run_items
  WHERE state = 'failed';
