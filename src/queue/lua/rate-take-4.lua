--[[
  Reserves one call slot of the fleet's rate controller for a call of one priority. Calls of a better
  priority go first across the fleet: a call that is refused records that a call of its priority is
  waiting, until it asks again, and a call of a worse priority is refused while such a record holds.
  A granted call records nothing, so once every better call holds a slot the worse ones take the next
  free slot, and a better run nobody asks for (its jobs backing off) holds nothing back.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots (sorted set: member = slot id, score = slot time)
    KEYS[3] throttles (sorted set: member = report id, score = report time)
    KEYS[4] waiting calls (sorted set: member = priority, score = until when a call of it is waiting)

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua), and
      member    the slot's id (a fresh UUID, or the one the same call asked with before)
      priority  the call's priority, BullMQ's (a smaller number goes first); optional: none is 0, the best

  Output: a cjson object
    {granted = true, waitMs, reservedAt, roomy}  a slot waitMs from now was reserved at reservedAt;
                                                 the caller confirms it (rate-confirm-3.lua) when its
                                                 time comes, unless roomy (the window is less than half
                                                 full, so the call's exact time cannot matter)
    {granted = false, retryInMs}                 no slot within aheadMs, a fleet-wide pause, or a call of
                                                 a better priority waiting (retryInMs: until its record
                                                 lapses): ask again after retryInMs
]]
--- @include "includes/rate-state"

-- A waiting call's record outlives the time it asks again by this much, so that a call of a worse
-- priority asking in between (timers, the round trip) does not take the slot it is about to ask for.
local WAIT_GRACE_MS = 100

local member = need(args, 'member', 'string')
local priority = args.priority
if priority == nil then
  priority = 0
elseif type(priority) ~= 'number' then
  error('cams-enrich rate controller: argument priority is not a number')
end

-- A refusal: the call asks again after max(retryInMs, aheadMs / 2) (the controller's poll), and its
-- priority is recorded as waiting until then and the grace.
local function refuse(retryInMs)
  local waitsUntil = now + math.max(retryInMs, aheadMs / 2) + WAIT_GRACE_MS
  local recorded = tonumber(rcall('ZSCORE', KEYS[4], priority))
  if recorded == nil or recorded < waitsUntil then rcall('ZADD', KEYS[4], waitsUntil, priority) end
  rcall('PEXPIRE', KEYS[4], ttl)
  return cjson.encode({granted = false, retryInMs = retryInMs})
end

rcall('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local betterUntil
local waiting = rcall('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
for i = 1, #waiting, 2 do
  local until_ = tonumber(waiting[i + 1])
  if tonumber(waiting[i]) < priority and (betterUntil == nil or until_ > betterUntil) then betterUntil = until_ end
end

if pauseUntil > now then
  return refuse(math.ceil(pauseUntil - now))
end
if betterUntil ~= nil then
  return refuse(math.ceil(betterUntil - now))
end
local rate = rateAt(now)
local window = 1000 + marginAt(now)
local slot = math.max(nextSlotAt, now)
local perWindow = math.max(1, math.floor(quota))
local taken = rcall('ZCOUNT', KEYS[2], '(' .. (slot - window), '+inf')
if taken >= perWindow then
  local kth = rcall('ZREVRANGE', KEYS[2], perWindow - 1, perWindow - 1, 'WITHSCORES')
  slot = math.max(slot, tonumber(kth[2]) + window)
end
if slot - now > aheadMs then
  return refuse(math.ceil(slot - now - aheadMs))
end
rcall('ZADD', KEYS[2], slot, member)
rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 5000)
rcall('HSET', KEYS[1], 'nextSlotAt', tostring(slot + 1000 / rate))
keep()
return cjson.encode({
  granted = true,
  waitMs = math.max(0, math.floor(slot - now)),
  reservedAt = math.floor(now),
  roomy = (taken + 1) * 2 <= perWindow,
})
