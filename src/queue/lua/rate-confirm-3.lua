--[[
  A reserved slot's time came and its call goes out now.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots
    KEYS[3] throttles

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua), and
      member      the slot's id, as given to rate-take-4.lua
      reservedAt  the time of its reservation, as rate-take-4.lua answered

  Output: a cjson object
    {confirmed = true, pauseMs = 0}   the slot's time is now when the call really goes out
    {confirmed = false, pauseMs}      the slot was reserved before the last cut of the rate (or a
                                      storm's pause): it was placed by the old schedule and is given
                                      back; the caller waits pauseMs and reserves again
]]
--- @include "includes/rate-state"

local member = need(args, 'member', 'string')
local reservedAt = need(args, 'reservedAt')
if pauseUntil > now or adjustedAt > reservedAt then
  rcall('ZREM', KEYS[2], member)
  return cjson.encode({confirmed = false, pauseMs = math.max(0, math.ceil(pauseUntil - now))})
end
local at = tonumber(rcall('ZSCORE', KEYS[2], member)) or now
rcall('ZADD', KEYS[2], math.max(at, now), member)
return cjson.encode({confirmed = true, pauseMs = 0})
