-- The fleet rate controller's state in PostgreSQL (src/queue/postgres-rate-state.ts), for a fleet whose
-- queue is not in Redis. Each function below is one of the Redis scripts src/queue/lua/rate-*.lua,
-- written line for line, under the script's name (rate-take-3.lua is rate_take): the same named
-- arguments in one jsonb table, the same state, the same rules, the same reply (jsonb, decoded
-- strictly by src/queue/rate-state.ts). Each runs as one statement: the state row is locked
-- (SELECT ... FOR UPDATE) for that statement's transaction only, so nothing is held on a connection
-- between calls (PgBouncer's transaction mode), and every process of the fleet shares one state on one
-- clock, the server's clock_timestamp() (unless the caller passes `now`, as tests do).
--
-- Redis keeps three keys per account; here, three tables keyed by the account:
--   rate_state      the state hash, one row per account; a NULL column is a field the hash lacks
--                   (nextSlotAt is next_slot_at, and so on); expires_at is the keys' TTL
--   rate_slots      granted slots (the sorted set: member = slot id, at = slot time, ms)
--   rate_throttles  throttles (member = report id, at = report time, ms)
-- A row past its expires_at is what Redis would have dropped: read as absent, and deleted with the
-- account's slots and throttles by the next operation that locks it.
CREATE TABLE rate_state (
  account          text PRIMARY KEY,
  expires_at       timestamptz NOT NULL,
  quota            double precision,
  delivered_at_cut double precision,
  target_rate      double precision,
  rate_after_cut   double precision,
  cut_at           double precision,
  margin_ms        double precision,
  margin_grew_at   double precision,
  next_slot_at     double precision,
  adjusted_at      double precision,
  hold_until       double precision,
  pause_until      double precision,
  storms           integer,
  last_storm_at    double precision,
  down_since       double precision,
  down_last_at     double precision,
  down_pauses      integer,
  down_alerted     boolean
);

CREATE TABLE rate_slots (
  account text             NOT NULL,
  member  text             NOT NULL,
  at      double precision NOT NULL,
  PRIMARY KEY (account, member)
);
CREATE INDEX rate_slots_account_at ON rate_slots (account, at);

CREATE TABLE rate_throttles (
  account text             NOT NULL,
  member  text             NOT NULL,
  at      double precision NOT NULL,
  PRIMARY KEY (account, member)
);
CREATE INDEX rate_throttles_account_at ON rate_throttles (account, at);

-- What includes/rate-state.lua reads for every script: the clock, the tuning and the stored state
-- with its defaults.
CREATE TYPE rate_context AS (
  present          boolean,          -- the state row exists and has not expired
  fields           integer,          -- fields the state holds (the hash's HLEN)
  now              double precision,
  ahead_ms         double precision,
  m0               double precision,
  m_max            double precision,
  m_grow           double precision,
  m_decay          double precision,
  approach         double precision,
  probe            double precision,
  cut_factor       double precision,
  cruise_factor    double precision,
  ttl              double precision,
  quota            double precision,
  quota_stored     boolean,
  min_rate         double precision,
  target_rate      double precision,
  rate_after_cut   double precision,
  cut_at           double precision,
  margin_stored    double precision,
  margin_grew_at   double precision,
  next_slot_at     double precision,
  hold_until       double precision,
  pause_until      double precision,
  delivered_at_cut double precision,
  adjusted_at      double precision
);

-- `need` of includes/rate-state.lua: a missing or mistyped argument stops the call, naming it.
CREATE FUNCTION rate_need(tbl jsonb, name text, kind text DEFAULT 'number') RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF jsonb_typeof(tbl -> name) IS DISTINCT FROM (CASE kind WHEN 'table' THEN 'object' ELSE kind END) THEN
    RAISE EXCEPTION 'cams-enrich rate controller: argument % is missing or not a %', name, kind;
  END IF;
  RETURN tbl -> name;
END $$;

CREATE FUNCTION rate_number(tbl jsonb, name text) RETURNS double precision
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$ SELECT rate_need(tbl, name)::double precision $$;

-- The account's state row, locked for the calling statement; created empty (no field) when there is
-- none, and emptied, with the account's slots and throttles, when it outlived its TTL.
CREATE FUNCTION rate_lock(p_account text, ttl double precision) RETURNS rate_state
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  s rate_state;
BEGIN
  LOOP
    SELECT * INTO s FROM rate_state WHERE account = p_account FOR UPDATE;
    IF FOUND AND s.expires_at > clock_timestamp() THEN
      RETURN s;
    END IF;
    IF FOUND THEN
      DELETE FROM rate_state WHERE account = p_account;
      DELETE FROM rate_slots WHERE account = p_account;
      DELETE FROM rate_throttles WHERE account = p_account;
    END IF;
    INSERT INTO rate_state (account, expires_at)
    VALUES (p_account, clock_timestamp() + ttl * interval '1 millisecond')
    ON CONFLICT (account) DO NOTHING;
  END LOOP;
END $$;

-- includes/rate-state.lua: the clock (args.now, else the server's), the tuning (args.tuning) and the
-- stored state with its defaults; p_lock locks the row (every script but rate-read-3.lua changes it).
CREATE FUNCTION rate_load(p_account text, args jsonb, p_lock boolean) RETURNS rate_context
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context;
  s rate_state;
  tuning jsonb := rate_need(args, 'tuning', 'table');
BEGIN
  IF NOT args ? 'now' THEN
    c.now := extract(epoch FROM clock_timestamp()) * 1000;
  ELSIF jsonb_typeof(args -> 'now') <> 'number' THEN
    RAISE EXCEPTION 'cams-enrich rate controller: argument now is not a number';
  ELSE
    c.now := (args -> 'now')::double precision;
  END IF;
  c.ahead_ms := rate_number(tuning, 'aheadMs');
  c.m0 := rate_number(tuning, 'initialMarginMs');
  c.m_max := rate_number(tuning, 'maxMarginMs');
  c.m_grow := rate_number(tuning, 'marginGrowth');
  c.m_decay := rate_number(tuning, 'marginDecayMsPerSecond');
  c.approach := rate_number(tuning, 'approachMs');
  c.probe := rate_number(tuning, 'probe');
  c.cut_factor := rate_number(tuning, 'cutFactor');
  c.cruise_factor := rate_number(tuning, 'cruiseFactor');
  c.ttl := rate_number(tuning, 'stateTtlMs');

  IF p_lock THEN
    s := rate_lock(p_account, c.ttl);
  ELSE
    SELECT * INTO s FROM rate_state WHERE account = p_account AND expires_at > clock_timestamp();
  END IF;
  c.present := s.account IS NOT NULL;
  c.fields := num_nonnulls(s.quota, s.delivered_at_cut, s.target_rate, s.rate_after_cut, s.cut_at,
    s.margin_ms, s.margin_grew_at, s.next_slot_at, s.adjusted_at, s.hold_until, s.pause_until, s.storms,
    s.last_storm_at, s.down_since, s.down_last_at, s.down_pauses, s.down_alerted);
  c.quota_stored := s.quota IS NOT NULL;
  c.quota := CASE WHEN s.quota IS NOT NULL THEN s.quota ELSE rate_number(args, 'quota') END;
  c.min_rate := least(rate_number(tuning, 'minRate'), c.quota);
  c.target_rate := coalesce(s.target_rate, c.quota);
  c.rate_after_cut := coalesce(s.rate_after_cut, c.quota);
  c.cut_at := coalesce(s.cut_at, c.now - c.approach);
  c.margin_stored := coalesce(s.margin_ms, c.m0);
  c.margin_grew_at := coalesce(s.margin_grew_at, c.now);
  c.next_slot_at := coalesce(s.next_slot_at, 0);
  c.hold_until := coalesce(s.hold_until, 0);
  c.pause_until := coalesce(s.pause_until, 0);
  c.delivered_at_cut := s.delivered_at_cut;
  c.adjusted_at := coalesce(s.adjusted_at, 0);
  RETURN c;
END $$;

-- rateAt of includes/rate-state.lua: after a cut the rate climbs back to target_rate along a cubic
-- that flattens as it nears it, then probes above it along a cubic (TCP CUBIC's shape).
CREATE FUNCTION rate_rate_at(c rate_context, at double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  e double precision := at - c.cut_at;
  x double precision;
  sec double precision;
  r double precision;
BEGIN
  IF e < c.approach THEN
    x := 1 - e / c.approach;
    r := c.target_rate - (c.target_rate - c.rate_after_cut) * x * x * x;
  ELSE
    sec := (e - c.approach) / 1000;
    r := c.target_rate + c.probe * c.quota * sec * sec * sec;
  END IF;
  RETURN least(c.quota, greatest(c.min_rate, r));
END $$;

-- marginAt of includes/rate-state.lua: the margin shrinks slowly once ten seconds passed since it grew.
CREATE FUNCTION rate_margin_at(c rate_context, at double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  idle double precision := greatest(0, at - c.margin_grew_at - 10000) / 1000;
BEGIN
  RETURN greatest(c.m0, least(c.m_max, c.margin_stored - c.m_decay * idle));
END $$;

-- keep() of includes/rate-state.lua: the state lives while it is used, and stateTtlMs after.
CREATE FUNCTION rate_keep(p_account text, ttl double precision) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  UPDATE rate_state SET expires_at = clock_timestamp() + ttl * interval '1 millisecond'
  WHERE account = p_account
$$;

/*
  rate-take-3.lua, once for each of `members` in order, at one time: reserves one call slot each.

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load)
    members    the slots' ids (fresh UUIDs), one per waiting call

  Output: a jsonb array, one reply per member
    {granted: true, waitMs, reservedAt, roomy}  a slot waitMs from now was reserved at reservedAt;
                                                the caller confirms it (rate_confirm) when its time
                                                comes, unless roomy (the window is less than half full)
    {granted: false, retryInMs}                 no slot within aheadMs (or a fleet-wide pause): ask
                                                again after retryInMs; every member after it gets the
                                                same reply
*/
CREATE FUNCTION rate_take(p_account text, args jsonb, members text[]) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, true);
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
  FOREACH slot_id IN ARRAY members LOOP
    IF refusal IS NULL AND c.pause_until > c.now THEN
      refusal := jsonb_build_object('granted', false, 'retryInMs', ceil(c.pause_until - c.now));
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
      refusal := jsonb_build_object('granted', false, 'retryInMs', ceil(slot - c.now - c.ahead_ms));
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

/*
  rate-confirm-3.lua: a reserved slot's time came and its call goes out now.

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load), and
      member      the slot's id, as given to rate_take
      reservedAt  the time of its reservation, as rate_take answered

  Output: jsonb
    {confirmed: true, pauseMs: 0}   the slot's time is now, when the call really goes out
    {confirmed: false, pauseMs}     the slot was reserved before the last cut of the rate (or a storm's
                                    pause): it is given back; the caller waits pauseMs and reserves again
*/
CREATE FUNCTION rate_confirm(p_account text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, true);
  slot_id text := rate_need(args, 'member', 'string') #>> '{}';
  reserved_at double precision := rate_number(args, 'reservedAt');
  slot_at double precision;
BEGIN
  IF c.pause_until > c.now OR c.adjusted_at > reserved_at THEN
    DELETE FROM rate_slots s WHERE s.account = p_account AND s.member = slot_id;
    RETURN jsonb_build_object('confirmed', false, 'pauseMs', greatest(0, ceil(c.pause_until - c.now)));
  END IF;
  SELECT s.at INTO slot_at FROM rate_slots s WHERE s.account = p_account AND s.member = slot_id;
  INSERT INTO rate_slots (account, member, at) VALUES (p_account, slot_id, greatest(coalesce(slot_at, c.now), c.now))
  ON CONFLICT (account, member) DO UPDATE SET at = EXCLUDED.at;
  RETURN jsonb_build_object('confirmed', true, 'pauseMs', 0);
END $$;

-- A reserved slot given back (a call that gave up waiting): Redis's ZREM.
CREATE FUNCTION rate_release(p_account text, p_member text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  DELETE FROM rate_slots WHERE account = p_account AND member = p_member
$$;

/*
  rate-throttled-3.lua: a call came back throttled (System.LimitControl): adjusts the margin or the
  rate, and pauses the fleet on a storm or for a retry hint.

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load), and
      member          the report's id (a fresh UUID)
      retryAfterMs    CAMS's retry hint, 0 when none
      holdMs          throttles in this long after an adjustment change nothing
      stormThrottles  throttles within one second that make a storm (optional: max(5, half the quota))
      stormPauseMs    the first storm's fleet-wide pause; doubles while storms repeat
      stormMaxPauseMs the longest storm pause

  Output: jsonb {verdict, pauseMs}
    verdict  'margin' the margin grew, 'cut' the rate was cut, 'storm' the fleet is paused,
             'none' nothing changed (a throttle of a call sent before the last change)
    pauseMs  fleet-wide pause that started now (0 when none)
*/
CREATE FUNCTION rate_throttled(p_account text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, true);
  report_id text := rate_need(args, 'member', 'string') #>> '{}';
  hint double precision := rate_number(args, 'retryAfterMs');
  hold_ms double precision := rate_number(args, 'holdMs');
  storm_throttles double precision;
  storm_base double precision := rate_number(args, 'stormPauseMs');
  storm_max double precision := rate_number(args, 'stormMaxPauseMs');
  recent integer;
  verdict text := 'none';
  pause double precision := 0;
  rate double precision;
  m double precision;
  delivered integer;
  capacity double precision;
  top double precision;
  n integer;
  storm_at double precision;
BEGIN
  storm_throttles := CASE WHEN args ? 'stormThrottles' THEN rate_number(args, 'stormThrottles')
                          ELSE greatest(5, ceil(c.quota * 0.5)) END;
  INSERT INTO rate_throttles (account, member, at) VALUES (p_account, report_id, c.now)
  ON CONFLICT (account, member) DO UPDATE SET at = EXCLUDED.at;
  DELETE FROM rate_throttles WHERE account = p_account AND at <= c.now - 60000;
  SELECT count(*) INTO recent FROM rate_throttles WHERE account = p_account AND at >= c.now - 1000;
  IF hint > 0 AND c.now + hint > c.pause_until THEN
    c.pause_until := c.now + hint;
    pause := hint;
    UPDATE rate_state SET pause_until = c.pause_until WHERE account = p_account;
  END IF;
  IF c.now >= c.hold_until THEN
    rate := rate_rate_at(c, c.now);
    m := rate_margin_at(c, c.now);
    SELECT count(*) - recent INTO delivered FROM rate_slots
    WHERE account = p_account AND at >= c.now - 1000 AND at <= c.now;
    capacity := c.quota * 1000 / (1000 + m);
    IF recent <= 1 AND delivered >= 0.85 * capacity THEN
      -- A lone throttle while the fleet was using its whole window: the line's delay spread needs a
      -- wider margin. Throttles in quick succession, or a fleet getting clearly less than its window
      -- through, mean another client shares the quota: answered by the rate (rate-throttled-3.lua).
      UPDATE rate_state SET margin_ms = least(c.m_max, m * c.m_grow), margin_grew_at = c.now
      WHERE account = p_account;
      verdict := 'margin';
    ELSE
      -- What got through in the last second is what is left (never less than half the rate in one
      -- step), averaged with the last cut's figure when that was recent; the fleet cruises under it.
      top := greatest(c.min_rate, least(rate, greatest(delivered, rate * 0.5)));
      IF c.delivered_at_cut IS NOT NULL AND c.now - c.cut_at < 30000 THEN
        top := greatest(c.min_rate, least(rate, (top + c.delivered_at_cut) / 2));
      END IF;
      c.target_rate := greatest(c.min_rate, c.cruise_factor * top);
      c.rate_after_cut := greatest(c.min_rate, c.cut_factor * top);
      c.cut_at := c.now;
      UPDATE rate_state SET delivered_at_cut = top, target_rate = c.target_rate,
        rate_after_cut = c.rate_after_cut, cut_at = c.cut_at
      WHERE account = p_account;
      verdict := 'cut';
    END IF;
    UPDATE rate_state SET hold_until = c.now + hold_ms WHERE account = p_account;
    IF verdict = 'cut' THEN
      -- Slots reserved at the old rate are given back (rate_confirm); the next one is a spacing away.
      UPDATE rate_state SET adjusted_at = c.now, next_slot_at = c.now + 1000 / rate_rate_at(c, c.now)
      WHERE account = p_account;
    END IF;
  END IF;
  IF recent >= storm_throttles AND c.now >= c.pause_until THEN
    SELECT s.storms, s.last_storm_at INTO n, storm_at FROM rate_state s WHERE s.account = p_account;
    n := coalesce(n, 0);
    IF c.now - coalesce(storm_at, 0) > 30000 THEN
      n := 0;
    END IF;
    n := n + 1;
    pause := least(storm_max, storm_base * power(2::double precision, n - 1));
    rate := rate_rate_at(c, c.now);
    UPDATE rate_state SET storms = n, last_storm_at = c.now, pause_until = c.now + pause,
      target_rate = greatest(c.min_rate, rate * c.cut_factor),
      rate_after_cut = greatest(c.min_rate, rate * c.cut_factor * c.cut_factor),
      cut_at = c.now + pause, hold_until = c.now + pause + hold_ms, adjusted_at = c.now
    WHERE account = p_account;
    verdict := 'storm';
  END IF;
  PERFORM rate_keep(p_account, c.ttl);
  RETURN jsonb_build_object('verdict', verdict, 'pauseMs', ceil(pause));
END $$;

/*
  rate-unreachable-3.lua: a call could not reach the CAMS endpoint at all (refused, DNS, TLS): pauses
  the fleet, with a pause that doubles while the endpoint stays down, and says when to raise the
  endpoint-down alert.

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load), and
      firstPauseMs  the first pause
      maxPauseMs    the longest pause
      alertAfterMs  how long the endpoint must stay down before the alert

  Output: jsonb
    pauseMs     fleet-wide pause that started now (0: one was already on)
    raiseAlert  true for the one report that should raise the alert
    downForMs   how long the endpoint has been down
*/
CREATE FUNCTION rate_unreachable(p_account text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, true);
  base double precision := rate_number(args, 'firstPauseMs');
  longest double precision := rate_number(args, 'maxPauseMs');
  alert_after double precision := rate_number(args, 'alertAfterMs');
  since double precision;
  last_at double precision;
  n integer;
  alerted boolean;
  pause double precision := 0;
  raise_alert boolean := false;
BEGIN
  SELECT s.down_since, s.down_last_at, s.down_pauses, s.down_alerted INTO since, last_at, n, alerted
  FROM rate_state s WHERE s.account = p_account;
  n := coalesce(n, 0);
  alerted := coalesce(alerted, false);
  IF since IS NULL OR c.now - coalesce(last_at, 0) > longest + 60000 THEN
    since := c.now;
    n := 0;
    alerted := false;
  END IF;
  IF c.now >= c.pause_until THEN
    pause := least(longest, base * power(2::double precision, n));
    n := n + 1;
    c.pause_until := c.now + pause;
  END IF;
  IF NOT alerted AND c.now - since >= alert_after THEN
    raise_alert := true;
    alerted := true;
  END IF;
  UPDATE rate_state SET down_since = since, down_last_at = c.now, down_pauses = n, down_alerted = alerted,
    pause_until = c.pause_until
  WHERE account = p_account;
  PERFORM rate_keep(p_account, c.ttl);
  RETURN jsonb_build_object('pauseMs', ceil(pause), 'raiseAlert', raise_alert,
    'downForMs', floor(c.now - since));
END $$;

/*
  rate-reachable-1.lua: the CAMS endpoint answered: forgets that it was down.

  Output: jsonb {clearAlert}: true when an endpoint-down alert was raised (rate_unreachable) and
  should be cleared now.
*/
CREATE FUNCTION rate_reachable(p_account text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  since double precision;
  alerted boolean;
BEGIN
  SELECT s.down_since, s.down_alerted INTO since, alerted FROM rate_state s
  WHERE s.account = p_account AND s.expires_at > clock_timestamp() FOR UPDATE;
  IF since IS NULL THEN
    RETURN jsonb_build_object('clearAlert', false);
  END IF;
  UPDATE rate_state SET down_since = NULL, down_last_at = NULL, down_pauses = NULL, down_alerted = NULL
  WHERE account = p_account;
  RETURN jsonb_build_object('clearAlert', coalesce(alerted, false));
END $$;

/*
  rate-read-3.lua: the figures `status`, the dashboard and /metrics show of the rate controller;
  changes nothing (locks nothing).

  Input:
    p_account  the account
    args       quota, tuning, now? (rate_load)

  Output: jsonb
    quota                the fleet's quota as stored (the caller's when none is stored yet)
    quotaStored          true when the state holds the quota
    allowedRate          the rate the fleet allows itself now (spacing and window together), calls/s
    marginMs             margin added to the one-second window
    throttlesLastMinute  throttles reported in the last 60 s
    pausedForMs          fleet-wide pause left
    unreachableForMs     how long the endpoint has been down; null when it answers
    active               true once a call went through the controller
*/
CREATE FUNCTION rate_read(p_account text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  c rate_context := rate_load(p_account, args, false);
  rate double precision := rate_rate_at(c, c.now);
  m double precision := rate_margin_at(c, c.now);
  since double precision;
  throttles integer := 0;
BEGIN
  IF c.present THEN
    SELECT s.down_since INTO since FROM rate_state s WHERE s.account = p_account;
    SELECT count(*) INTO throttles FROM rate_throttles WHERE account = p_account AND at >= c.now - 60000;
  END IF;
  RETURN jsonb_build_object(
    'quota', c.quota,
    'quotaStored', c.quota_stored,
    'allowedRate', least(rate, c.quota * 1000 / (1000 + m)),
    'marginMs', floor(m),
    'throttlesLastMinute', throttles,
    'pausedForMs', greatest(0, ceil(c.pause_until - c.now)),
    'unreachableForMs', floor(c.now - since),
    'active', c.fields > (CASE WHEN c.quota_stored THEN 1 ELSE 0 END));
END $$;

/*
  rate-quota-1.lua: the fleet's quota, stored with the rate controller's state: the first process
  stores its own, the next ones compare theirs with it, and one started to change it replaces it.

  Input:
    p_account  the account
    args
      quota       the caller's quota, calls per second
      replace     true: store the caller's quota even when another one is stored
      stateTtlMs  how long the state lives without use

  Output: jsonb {outcome, quota, previous}
    outcome   'stored' (none was stored), 'same', 'replaced' (replace was set), 'different' (another
              quota is stored and was kept)
    quota     the quota stored now
    previous  the quota stored before; null when none was
*/
CREATE FUNCTION rate_quota(p_account text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  asked double precision;
  ttl double precision;
  previous double precision;
  outcome text;
BEGIN
  IF jsonb_typeof(args -> 'quota') IS DISTINCT FROM 'number'
     OR jsonb_typeof(args -> 'stateTtlMs') IS DISTINCT FROM 'number'
     OR jsonb_typeof(args -> 'replace') IS DISTINCT FROM 'boolean' THEN
    RAISE EXCEPTION 'cams-enrich rate controller: arguments quota, replace and stateTtlMs are required';
  END IF;
  asked := (args -> 'quota')::double precision;
  ttl := (args -> 'stateTtlMs')::double precision;
  previous := (rate_lock(p_account, ttl)).quota;
  IF previous IS NULL THEN
    outcome := 'stored';
  ELSIF previous = asked THEN
    outcome := 'same';
  ELSIF (args -> 'replace')::boolean THEN
    outcome := 'replaced';
  ELSE
    PERFORM rate_keep(p_account, ttl);
    RETURN jsonb_build_object('outcome', 'different', 'quota', previous, 'previous', previous);
  END IF;
  UPDATE rate_state SET quota = asked WHERE account = p_account;
  PERFORM rate_keep(p_account, ttl);
  RETURN jsonb_build_object('outcome', outcome, 'quota', asked, 'previous', previous);
END $$;

-- Forgets the account's state: what the controller learned and the quota stored with it (Redis's DEL).
CREATE FUNCTION rate_forget(p_account text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  DELETE FROM rate_state WHERE account = p_account;
  DELETE FROM rate_slots WHERE account = p_account;
  DELETE FROM rate_throttles WHERE account = p_account;
$$;
