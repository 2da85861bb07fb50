-- The rate controller's state is soft state, as it is in Redis: what the controller learned (rate,
-- margin, recent slots and throttles) and the quota the first worker stored. Written on every CAMS call,
-- a logged table made each call wait for a WAL flush at commit (a take and a confirm took 11 ms at the
-- median on a loaded 2-core machine, 1-3 ms unlogged). Unlogged, a crash of the server or a failover
-- to a standby leaves the state empty: the fleet starts again from its quota, as with a Redis restart
-- without persistence, and the next worker to start stores the quota again.
ALTER TABLE rate_state SET UNLOGGED;
ALTER TABLE rate_slots SET UNLOGGED;
ALTER TABLE rate_throttles SET UNLOGGED;
