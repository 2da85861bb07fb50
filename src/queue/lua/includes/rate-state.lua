--[[
  Shared by the rate controller's scripts: the clock, the named arguments, the stored state and the
  two derived figures, the allowed rate and the margin.

  ARGV[1] is one cjson-encoded table; every script reads its own fields from `args` by name, and a
  missing or mistyped field stops the script with an error naming it (`need`).

  Common fields:
    args.quota   the caller's quota, calls per second (used only while the state stores none)
    args.now     the caller's clock in ms, when it drives the controller (tests); else the server's TIME
    args.tuning  aheadMs, initialMarginMs, maxMarginMs, marginGrowth, marginDecayMsPerSecond, approachMs,
                 probe, cutFactor, cruiseFactor, minRate, stateTtlMs (see RateTuning in rate-controller.ts)

  The state hash (KEYS[1]):
    quota            the fleet's quota, calls per second (stored by the first worker, rate-quota-1.lua)
    deliveredAtCut   what got through in the second before the last cut, calls per second
    targetRate       the rate climbed back to after a cut (a little under deliveredAtCut)
    rateAfterCut     the rate right after the last cut
    cutAt            time of that cut
    marginMs         margin added to the one-second window; marginGrewAt: when it last grew
    nextSlotAt       the next free slot by the rate's spacing
    adjustedAt       time of the last cut or storm (slots reserved before it are given back)
    holdUntil        throttles before it answer calls sent before the last change
    pauseUntil       fleet-wide pause (storm, retry hint, endpoint down)
    storms, lastStormAt                               consecutive storms
    downSince, downLastAt, downPauses, downAlerted    endpoint down
]]
local rcall = redis.call
local args = cjson.decode(ARGV[1])

local function need(tbl, name, kind)
  local v = tbl[name]
  if type(v) ~= (kind or 'number') then
    error('cams-enrich rate controller: argument ' .. name .. ' is missing or not a ' .. (kind or 'number'))
  end
  return v
end

local tuning = need(args, 'tuning', 'table')
local now = args.now
if now == nil then
  local t = rcall('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
elseif type(now) ~= 'number' then
  error('cams-enrich rate controller: argument now is not a number')
end
local aheadMs = need(tuning, 'aheadMs')
local m0 = need(tuning, 'initialMarginMs')
local mMax = need(tuning, 'maxMarginMs')
local mGrow = need(tuning, 'marginGrowth')
local mDecay = need(tuning, 'marginDecayMsPerSecond')
local approach = need(tuning, 'approachMs')
local probe = need(tuning, 'probe')
local cutFactor = need(tuning, 'cutFactor')
local cruiseFactor = need(tuning, 'cruiseFactor')
local ttl = need(tuning, 'stateTtlMs')

local s = rcall('HMGET', KEYS[1], 'quota', 'targetRate', 'rateAfterCut', 'cutAt', 'marginMs', 'marginGrewAt',
  'nextSlotAt', 'holdUntil', 'pauseUntil', 'deliveredAtCut', 'adjustedAt')
local quota = tonumber(s[1]) or need(args, 'quota')
local minRate = math.min(need(tuning, 'minRate'), quota)
local targetRate = tonumber(s[2]) or quota
local rateAfterCut = tonumber(s[3]) or quota
local cutAt = tonumber(s[4]) or (now - approach)
local marginStored = tonumber(s[5]) or m0
local marginGrewAt = tonumber(s[6]) or now
local nextSlotAt = tonumber(s[7]) or 0
local holdUntil = tonumber(s[8]) or 0
local pauseUntil = tonumber(s[9]) or 0
local deliveredAtCut = tonumber(s[10])
local adjustedAt = tonumber(s[11]) or 0

-- After a cut the rate climbs back to targetRate along a cubic that flattens as it nears it, then
-- probes above it along a cubic: slowly at first (a probe finds the ceiling with one throttle) and
-- then fast (the quota comes back within seconds once the other client stopped): the shape of TCP CUBIC.
local function rateAt(at)
  local e = at - cutAt
  local r
  if e < approach then
    local x = 1 - e / approach
    r = targetRate - (targetRate - rateAfterCut) * x * x * x
  else
    local sec = (e - approach) / 1000
    r = targetRate + probe * quota * sec * sec * sec
  end
  return math.min(quota, math.max(minRate, r))
end

-- The margin added to the one-second window for the spread of the time between a slot and the
-- call's arrival; it shrinks slowly once ten seconds passed since it last grew.
local function marginAt(at)
  local idle = math.max(0, at - marginGrewAt - 10000) / 1000
  return math.max(m0, math.min(mMax, marginStored - mDecay * idle))
end

-- Every key of the controller lives while it is used, and a day (stateTtlMs) after.
local function keep()
  for i = 1, #KEYS do rcall('PEXPIRE', KEYS[i], ttl) end
end
