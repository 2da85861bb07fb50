-- Calls of a better priority first across the fleet (src/queue/lua/rate-take-4.lua): a take that is
-- refused records that a call of its priority is waiting, until it asks again, and a take of a worse
-- priority is refused while such a record holds. Redis keeps the records in a fourth key, the sorted
-- set `…:waiting` (member = priority, score = until when); here, one row per account and priority.
-- Soft state like the rest of the controller's: unlogged. A record lasts seconds and `take` deletes the
-- lapsed ones, so none outlives the day after which an unused state expires (rate_lock).
CREATE UNLOGGED TABLE rate_waiting (
  account  text             NOT NULL,
  priority double precision NOT NULL,
  at       double precision NOT NULL,
  PRIMARY KEY (account, priority)
);

-- As in 0013_rate_state.sql, and the account's waiting calls too (Redis's DEL of the four keys).
CREATE OR REPLACE FUNCTION rate_forget(p_account text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  DELETE FROM rate_state WHERE account = p_account;
  DELETE FROM rate_slots WHERE account = p_account;
  DELETE FROM rate_throttles WHERE account = p_account;
  DELETE FROM rate_waiting WHERE account = p_account;
$$;

-- refuse() of rate-take-4.lua: the call asks again after max(retry_in_ms, aheadMs / 2) (the
-- controller's poll), and its priority is recorded as waiting until then and a grace of 100 ms, so that
-- a call of a worse priority asking in between does not take the slot it is about to ask for.
CREATE FUNCTION rate_refuse(p_account text, c rate_context, prio double precision, retry_in_ms double precision)
RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO rate_waiting (account, priority, at)
  VALUES (p_account, prio, c.now + greatest(retry_in_ms, c.ahead_ms / 2) + 100)
  ON CONFLICT (account, priority) DO UPDATE SET at = greatest(rate_waiting.at, EXCLUDED.at);
  RETURN jsonb_build_object('granted', false, 'retryInMs', retry_in_ms);
END $$;

/*
  rate-take-4.lua, once for each of `members` in order, at one time: reserves one call slot each, for
  calls of one priority. Calls of a better priority go first across the fleet: a refused call records
  that a call of its priority is waiting (rate_refuse), and a call of a worse priority is refused while
  such a record holds. A granted call records nothing.

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load), and
      priority  the calls' priority, BullMQ's (a smaller number goes first); optional: none is 0, the best
    members    the slots' ids, one per waiting call

  Output: a jsonb array, one reply per member
    {granted: true, waitMs, reservedAt, roomy}  a slot waitMs from now was reserved at reservedAt;
                                                the caller confirms it (rate_confirm) when its time
                                                comes, unless roomy (the window is less than half full)
    {granted: false, retryInMs}                 no slot within aheadMs, a fleet-wide pause, or a call of
                                                a better priority waiting (retryInMs: until its record
                                                lapses): ask again after retryInMs; every member after
                                                it gets the same reply
*/
CREATE OR REPLACE FUNCTION rate_take(p_account text, args jsonb, members text[]) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, true);
  prio double precision := 0;
  better_until double precision;
  replies jsonb := '[]';
  refusal jsonb;
  slot_id text;
  rate double precision;
  win double precision;
  slot double precision;
  per_window integer;
  taken integer;
  kth double precision;
  granted boolean := false;
BEGIN
  IF members IS NULL OR cardinality(members) = 0 OR array_position(members, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'cams-enrich rate controller: argument member is missing or not a string';
  END IF;
  IF args ? 'priority' THEN
    IF jsonb_typeof(args -> 'priority') <> 'number' THEN
      RAISE EXCEPTION 'cams-enrich rate controller: argument priority is not a number';
    END IF;
    prio := (args -> 'priority')::double precision;
  END IF;
  DELETE FROM rate_waiting WHERE account = p_account AND at <= c.now;
  SELECT max(w.at) INTO better_until FROM rate_waiting w WHERE w.account = p_account AND w.priority < prio;
  FOREACH slot_id IN ARRAY members LOOP
    IF refusal IS NULL AND c.pause_until > c.now THEN
      refusal := rate_refuse(p_account, c, prio, ceil(c.pause_until - c.now));
    END IF;
    IF refusal IS NULL AND better_until IS NOT NULL THEN
      refusal := rate_refuse(p_account, c, prio, ceil(better_until - c.now));
    END IF;
    IF refusal IS NOT NULL THEN
      replies := replies || jsonb_build_array(refusal);
      CONTINUE;
    END IF;
    rate := rate_rate_at(c, c.now);
    win := 1000 + rate_margin_at(c, c.now);
    slot := greatest(c.next_slot_at, c.now);
    per_window := greatest(1, floor(c.quota));
    SELECT count(*) INTO taken FROM rate_slots WHERE account = p_account AND at > slot - win;
    IF taken >= per_window THEN
      SELECT s.at INTO kth FROM rate_slots s WHERE s.account = p_account
      ORDER BY s.at DESC OFFSET per_window - 1 LIMIT 1;
      slot := greatest(slot, kth + win);
    END IF;
    IF slot - c.now > c.ahead_ms THEN
      refusal := rate_refuse(p_account, c, prio, ceil(slot - c.now - c.ahead_ms));
      replies := replies || jsonb_build_array(refusal);
      CONTINUE;
    END IF;
    INSERT INTO rate_slots (account, member, at) VALUES (p_account, slot_id, slot)
    ON CONFLICT (account, member) DO UPDATE SET at = EXCLUDED.at;
    c.next_slot_at := slot + 1000 / rate;
    granted := true;
    replies := replies || jsonb_build_array(jsonb_build_object(
      'granted', true,
      'waitMs', greatest(0, floor(slot - c.now)),
      'reservedAt', floor(c.now),
      'roomy', (taken + 1) * 2 <= per_window));
  END LOOP;
  IF granted THEN
    DELETE FROM rate_slots WHERE account = p_account AND at <= c.now - 5000;
    UPDATE rate_state SET next_slot_at = c.next_slot_at WHERE account = p_account;
    PERFORM rate_keep(p_account, c.ttl);
  END IF;
  RETURN replies;
END $$;
