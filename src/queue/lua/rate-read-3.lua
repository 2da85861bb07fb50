--[[
  The figures `status`, the dashboard and /metrics show of the rate controller; changes nothing.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots
    KEYS[3] throttles

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua)

  Output: a cjson object
    quota                the fleet's quota as stored (the caller's when none is stored yet)
    quotaStored          true when the state holds the quota
    allowedRate          the rate the fleet allows itself now (spacing and window together), calls/s
    marginMs             margin added to the one-second window
    throttlesLastMinute  throttles reported in the last 60 s
    pausedForMs          fleet-wide pause left
    unreachableForMs     how long the endpoint has been down; null when it answers
    active               true once a call went through the controller
]]
--- @include "includes/rate-state"

local rate = rateAt(now)
local m = marginAt(now)
local since = tonumber(rcall('HGET', KEYS[1], 'downSince'))
return cjson.encode({
  quota = quota,
  quotaStored = s[1] and true or false,
  allowedRate = math.min(rate, quota * 1000 / (1000 + m)),
  marginMs = math.floor(m),
  throttlesLastMinute = rcall('ZCOUNT', KEYS[3], now - 60000, '+inf'),
  pausedForMs = math.max(0, math.ceil(pauseUntil - now)),
  unreachableForMs = since and math.floor(now - since) or cjson.null,
  active = rcall('HLEN', KEYS[1]) > (s[1] and 1 or 0),
})
