--[[
  A call could not reach the CAMS endpoint at all (refused, DNS, TLS): pauses the fleet, with a
  pause that doubles while the endpoint stays down, and says when to raise the endpoint-down alert.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots
    KEYS[3] throttles

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua), and
      firstPauseMs  the first pause
      maxPauseMs    the longest pause
      alertAfterMs  how long the endpoint must stay down before the alert

  Output: a cjson object
    pauseMs     fleet-wide pause that started now (0: one was already on)
    raiseAlert  true for the one report that should raise the alert
    downForMs   how long the endpoint has been down
]]
--- @include "includes/rate-state"

local base = need(args, 'firstPauseMs')
local longest = need(args, 'maxPauseMs')
local alertAfter = need(args, 'alertAfterMs')
local d = rcall('HMGET', KEYS[1], 'downSince', 'downLastAt', 'downPauses', 'downAlerted')
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
local raise = false
if not alerted and now - since >= alertAfter then
  raise = true
  alerted = true
end
rcall('HSET', KEYS[1], 'downSince', tostring(since), 'downLastAt', tostring(now), 'downPauses', n,
  'downAlerted', alerted and '1' or '0', 'pauseUntil', tostring(pauseUntil))
keep()
return cjson.encode({pauseMs = math.ceil(pause), raiseAlert = raise, downForMs = math.floor(now - since)})
