/**
 * The Lua side of the fleet's rate controller (`rate-controller.ts`). Every script reads the Redis
 * server's clock, so the machines' clocks never matter, and runs atomically, so any number of
 * processes share one state.
 *
 * KEYS[1] state hash, KEYS[2] granted slots (sorted set, score = slot time), KEYS[3] throttles
 * (sorted set, score = report time). ARGV[1..12] are the tuning (see `tuningArgs`): quota, ahead ms,
 * initial margin ms, largest margin ms, margin growth factor, margin decay ms per s, approach ms,
 * probe (share of the quota per s³), cut factor, lowest rate, state TTL ms, cruise factor.
 *
 * The state hash: `C` the rate that got through at the last cut (the share of the quota left to the
 * fleet), `T` rate to approach (a little under `C`), `r0` rate right after the last cut, `cutAt` time
 * of that cut; `m` margin ms, `mAt` time the margin last grew; `tat` the next free slot; `adjAt` time of
 * the last cut or storm (slots reserved before it are given back); `holdUntil` (throttles before it
 * answer calls sent before the last change); `pauseUntil` (fleet-wide pause); `stormN`/`stormAt`
 * (consecutive storms); `downSince`/`downLast`/`downN`/`alerted` (endpoint down).
 *
 * A slot's score in KEYS[2] is first the time it is reserved for, then (CONFIRM) the time the call
 * really went out, so a call that left late pushes the calls after it back instead of crowding them.
 */

/** Shared prelude: the clock, the tuning and the two derived figures, the allowed rate and the margin. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local quota = tonumber(ARGV[1])
local aheadMs = tonumber(ARGV[2])
local m0 = tonumber(ARGV[3])
local mMax = tonumber(ARGV[4])
local mGrow = tonumber(ARGV[5])
local mDecay = tonumber(ARGV[6])
local approach = tonumber(ARGV[7])
local probe = tonumber(ARGV[8])
local beta = tonumber(ARGV[9])
local minRate = tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
local cruise = tonumber(ARGV[12])
local s = redis.call('HMGET', KEYS[1], 'T', 'r0', 'cutAt', 'm', 'mAt', 'tat', 'holdUntil', 'pauseUntil',
  'C', 'adjAt')
local T = tonumber(s[1]) or quota
local r0 = tonumber(s[2]) or quota
local cutAt = tonumber(s[3]) or (now - approach)
local mStored = tonumber(s[4]) or m0
local mAt = tonumber(s[5]) or now
local tat = tonumber(s[6]) or 0
local holdUntil = tonumber(s[7]) or 0
local pauseUntil = tonumber(s[8]) or 0
local C = tonumber(s[9])
local adjAt = tonumber(s[10]) or 0
-- After a cut the rate climbs back to T along a cubic that flattens as it nears T, then probes above
-- T along a cubic: slowly at first (a probe finds the ceiling with one throttle) and then fast (the
-- quota comes back within seconds once the other client stopped) — the shape of TCP CUBIC.
local function rateAt(at)
  local e = at - cutAt
  local r
  if e < approach then
    local x = 1 - e / approach
    r = T - (T - r0) * x * x * x
  else
    local sec = (e - approach) / 1000
    r = T + probe * quota * sec * sec * sec
  end
  return math.min(quota, math.max(minRate, r))
end
-- The margin added to the one-second window for the spread of the time between a slot and the
-- call's arrival; it shrinks slowly once ten seconds passed since it last grew.
local function marginAt(at)
  local idle = math.max(0, at - mAt - 10000) / 1000
  return math.max(m0, math.min(mMax, mStored - mDecay * idle))
end
local function keep()
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
`;

/**
 * Reserves one slot. ARGV[13] member name. Returns {1, ms until the slot, time of the reservation,
 * 1 when the window was less than half full} when a slot was reserved (the caller confirms it then),
 * {0, ms to wait before asking again} otherwise.
 */
export const TAKE = `${PRELUDE}
if pauseUntil > now then return {0, math.ceil(pauseUntil - now)} end
local rate = rateAt(now)
local w = 1000 + marginAt(now)
local slot = math.max(tat, now)
local n = math.max(1, math.floor(quota))
local taken = redis.call('ZCOUNT', KEYS[2], '(' .. (slot - w), '+inf')
if taken >= n then
  local kth = redis.call('ZREVRANGE', KEYS[2], n - 1, n - 1, 'WITHSCORES')
  slot = math.max(slot, tonumber(kth[2]) + w)
end
if slot - now > aheadMs then return {0, math.ceil(slot - now - aheadMs)} end
redis.call('ZADD', KEYS[2], slot, ARGV[13])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 5000)
redis.call('HSET', KEYS[1], 'tat', tostring(slot + 1000 / rate))
keep()
-- Roomy: the window is less than half full, so the exact time of this call cannot matter to it.
return {1, math.max(0, math.floor(slot - now)), math.floor(now), (taken + 1) * 2 <= n and 1 or 0}
`;

/**
 * The slot's time came and the call goes out now. ARGV[13] member name, ARGV[14] time of its
 * reservation. A slot reserved before the last cut of the rate (or a storm's pause) is given back,
 * since it was placed by the old schedule: returns {0, ms of pause left} and the caller reserves
 * again. Otherwise the slot's time becomes now, when the call really goes out, and {1, 0}.
 */
export const CONFIRM = `${PRELUDE}
if pauseUntil > now or adjAt > tonumber(ARGV[14]) then
  redis.call('ZREM', KEYS[2], ARGV[13])
  return {0, math.max(0, math.ceil(pauseUntil - now))}
end
local at = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[13])) or now
redis.call('ZADD', KEYS[2], math.max(at, now), ARGV[13])
return {1, 0}
`;

/**
 * A throttle came back. ARGV[13] member name, ARGV[14] retry hint ms (0 none), ARGV[15] hold ms,
 * ARGV[16] throttles in one second that make a storm, ARGV[17] first storm pause ms, ARGV[18] longest.
 * Returns {kind, pause ms}: kind 1 = the margin grew, 2 = the rate was cut, 3 = storm (fleet paused),
 * 0 = nothing changed (a throttle of calls sent before the last change).
 */
export const THROTTLED = `${PRELUDE}
local hint = tonumber(ARGV[14])
local holdMs = tonumber(ARGV[15])
local stormAt = tonumber(ARGV[16])
local stormBase = tonumber(ARGV[17])
local stormMax = tonumber(ARGV[18])
redis.call('ZADD', KEYS[3], now, ARGV[13])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 60000)
local recent = redis.call('ZCOUNT', KEYS[3], now - 1000, '+inf')
local kind = 0
local pause = 0
if hint > 0 and now + hint > pauseUntil then
  pauseUntil = now + hint
  pause = hint
  redis.call('HSET', KEYS[1], 'pauseUntil', tostring(pauseUntil))
end
if now >= holdUntil then
  local rate = rateAt(now)
  local m = marginAt(now)
  local delivered = redis.call('ZCOUNT', KEYS[2], now - 1000, now) - recent
  local capacity = quota * 1000 / (1000 + m)
  if recent <= 1 and delivered >= 0.85 * capacity then
    -- A lone throttle while the fleet was using its whole window: the line's delay spread needs a
    -- wider margin. Throttles in quick succession, or a fleet getting clearly less than its window
    -- through, mean another client shares the quota: that is answered by the rate, which recovers
    -- in seconds, rather than by the margin, which shrinks slowly.
    redis.call('HSET', KEYS[1], 'm', tostring(math.min(mMax, m * mGrow)), 'mAt', tostring(now))
    kind = 1
  else
    -- Someone else uses part of the quota: what got through in the last second is what is left
    -- (never less than half the rate in one step), averaged with the last cut's figure when that was
    -- recent, since one second holds few calls. The fleet cruises a little under it.
    local top = math.max(minRate, math.min(rate, math.max(delivered, rate * 0.5)))
    if C and now - cutAt < 30000 then top = math.max(minRate, math.min(rate, (top + C) / 2)) end
    T = math.max(minRate, cruise * top)
    r0 = math.max(minRate, beta * top)
    cutAt = now
    redis.call('HSET', KEYS[1], 'C', tostring(top), 'T', tostring(T), 'r0', tostring(r0),
      'cutAt', tostring(cutAt))
    kind = 2
  end
  redis.call('HSET', KEYS[1], 'holdUntil', tostring(now + holdMs))
  if kind == 2 then
    -- Slots reserved at the old rate are given back (CONFIRM); the next one is a spacing away.
    redis.call('HSET', KEYS[1], 'adjAt', tostring(now), 'tat', tostring(now + 1000 / rateAt(now)))
  end
end
if recent >= stormAt and now >= pauseUntil then
  local st = redis.call('HMGET', KEYS[1], 'stormN', 'stormAt')
  local n = tonumber(st[1]) or 0
  if now - (tonumber(st[2]) or 0) > 30000 then n = 0 end
  n = n + 1
  pause = math.min(stormMax, stormBase * 2 ^ (n - 1))
  local rate = rateAt(now)
  redis.call('HSET', KEYS[1], 'stormN', n, 'stormAt', tostring(now), 'pauseUntil', tostring(now + pause),
    'T', tostring(math.max(minRate, rate * beta)), 'r0', tostring(math.max(minRate, rate * beta * beta)),
    'cutAt', tostring(now + pause), 'holdUntil', tostring(now + pause + holdMs), 'adjAt', tostring(now))
  kind = 3
end
keep()
return {kind, math.ceil(pause)}
`;

/**
 * A call could not reach the endpoint at all. ARGV[13] first pause ms, ARGV[14] longest pause ms,
 * ARGV[15] ms of failures before an alert. Returns {pause ms (0: a pause is already on), 1 when this
 * report is the one that should raise the alert, ms since the endpoint went down}.
 */
export const UNREACHABLE = `${PRELUDE}
local base = tonumber(ARGV[13])
local longest = tonumber(ARGV[14])
local alertAfter = tonumber(ARGV[15])
local d = redis.call('HMGET', KEYS[1], 'downSince', 'downLast', 'downN', 'alerted')
local since = tonumber(d[1])
local n = tonumber(d[3]) or 0
local alerted = d[4] == '1'
if since == nil or now - (tonumber(d[2]) or 0) > longest + 60000 then
  since = now
  n = 0
  alerted = false
end
local pause = 0
if now >= pauseUntil then
  pause = math.min(longest, base * 2 ^ n)
  n = n + 1
  pauseUntil = now + pause
end
local raise = 0
if not alerted and now - since >= alertAfter then
  raise = 1
  alerted = true
end
redis.call('HSET', KEYS[1], 'downSince', tostring(since), 'downLast', tostring(now), 'downN', n,
  'alerted', alerted and '1' or '0', 'pauseUntil', tostring(pauseUntil))
keep()
return {math.ceil(pause), raise, math.floor(now - since)}
`;

/** The endpoint answered. Returns 1 when an endpoint-down alert was raised and should be cleared. */
export const REACHABLE = `
local d = redis.call('HMGET', KEYS[1], 'downSince', 'alerted')
if not d[1] then return 0 end
redis.call('HDEL', KEYS[1], 'downSince', 'downLast', 'downN', 'alerted')
return d[2] == '1' and 1 or 0
`;

/**
 * The figures `status` and the metrics show: {allowed rate × 1000, margin ms, throttles in the last
 * minute, ms of fleet-wide pause left, ms the endpoint has been down (-1 when up), quota in the state}.
 */
export const READ = `${PRELUDE}
local rate = rateAt(now)
local m = marginAt(now)
local allowed = math.min(rate, quota * 1000 / (1000 + m))
local throttles = redis.call('ZCOUNT', KEYS[3], now - 60000, '+inf')
local since = tonumber(redis.call('HGET', KEYS[1], 'downSince'))
return {math.floor(allowed * 1000), math.floor(m), throttles, math.max(0, math.ceil(pauseUntil - now)),
  since and math.floor(now - since) or -1, redis.call('EXISTS', KEYS[1])}
`;
