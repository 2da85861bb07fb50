--[[
  Reserves one call slot of the fleet's rate controller.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots (sorted set: member = slot id, score = slot time)
    KEYS[3] throttles (sorted set: member = report id, score = report time)

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua), and
      member  the slot's id (a fresh UUID)

  Output: a cjson object
    {granted = true, waitMs, reservedAt, roomy}  a slot waitMs from now was reserved at reservedAt;
                                                 the caller confirms it (rate-confirm-3.lua) when its
                                                 time comes, unless roomy (the window is less than half
                                                 full, so the call's exact time cannot matter)
    {granted = false, retryInMs}                 no slot within aheadMs (or a fleet-wide pause): ask
                                                 again after retryInMs
]]
--- @include "includes/rate-state"

local member = need(args, 'member', 'string')
if pauseUntil > now then
  return cjson.encode({granted = false, retryInMs = math.ceil(pauseUntil - now)})
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
  return cjson.encode({granted = false, retryInMs = math.ceil(slot - now - aheadMs)})
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
