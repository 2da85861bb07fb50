-- Schedules belong to a queue (they are stored on `<queue>-schedules`), and several queues may share
-- one ledger: a tick is known by its queue and its job id, and a schedule's ticks and runs are those
-- of its queue.
ALTER TABLE schedule_ticks ADD COLUMN queue text NOT NULL DEFAULT '';
ALTER TABLE schedule_ticks DROP CONSTRAINT schedule_ticks_job_id_key;
ALTER TABLE schedule_ticks ADD CONSTRAINT schedule_ticks_queue_job_id_key UNIQUE (queue, job_id);
DROP INDEX schedule_ticks_latest;
CREATE INDEX schedule_ticks_latest ON schedule_ticks (queue, schedule, id DESC);
