--[[
  A call came back throttled (System.LimitControl): adjusts the margin or the rate, and pauses the
  fleet on a storm or for a retry hint.

  Input:
    KEYS[1] state hash
    KEYS[2] granted slots
    KEYS[3] throttles

    ARGV[1] cjson table: quota, tuning, now? (includes/rate-state.lua), and
      member          the report's id (a fresh UUID)
      retryAfterMs    CAMS's retry hint, 0 when none
      holdMs          throttles in this long after an adjustment change nothing
      stormThrottles  throttles within one second that make a storm (optional: max(5, half the quota))
      stormPauseMs    the first storm's fleet-wide pause; doubles while storms repeat
      stormMaxPauseMs the longest storm pause

  Output: a cjson object {verdict, pauseMs}
    verdict  'margin' the margin grew, 'cut' the rate was cut, 'storm' the fleet is paused,
             'none' nothing changed (a throttle of a call sent before the last change)
    pauseMs  fleet-wide pause that started now (0 when none)
]]
--- @include "includes/rate-state"

local member = need(args, 'member', 'string')
local hint = need(args, 'retryAfterMs')
local holdMs = need(args, 'holdMs')
local stormThrottles = args.stormThrottles or math.max(5, math.ceil(quota * 0.5))
local stormBase = need(args, 'stormPauseMs')
local stormMax = need(args, 'stormMaxPauseMs')
rcall('ZADD', KEYS[3], now, member)
rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 60000)
local recent = rcall('ZCOUNT', KEYS[3], now - 1000, '+inf')
local verdict = 'none'
local pause = 0
if hint > 0 and now + hint > pauseUntil then
  pauseUntil = now + hint
  pause = hint
  rcall('HSET', KEYS[1], 'pauseUntil', tostring(pauseUntil))
end
if now >= holdUntil then
  local rate = rateAt(now)
  local m = marginAt(now)
  local delivered = rcall('ZCOUNT', KEYS[2], now - 1000, now) - recent
  local capacity = quota * 1000 / (1000 + m)
  if recent <= 1 and delivered >= 0.85 * capacity then
    -- A lone throttle while the fleet was using its whole window: the line's delay spread needs a
    -- wider margin. Throttles in quick succession, or a fleet getting clearly less than its window
    -- through, mean another client shares the quota: that is answered by the rate, which recovers
    -- in seconds, rather than by the margin, which shrinks slowly.
    rcall('HSET', KEYS[1], 'marginMs', tostring(math.min(mMax, m * mGrow)), 'marginGrewAt', tostring(now))
    verdict = 'margin'
  else
    -- Someone else uses part of the quota: what got through in the last second is what is left
    -- (never less than half the rate in one step), averaged with the last cut's figure when that was
    -- recent, since one second holds few calls. The fleet cruises a little under it.
    local top = math.max(minRate, math.min(rate, math.max(delivered, rate * 0.5)))
    if deliveredAtCut and now - cutAt < 30000 then
      top = math.max(minRate, math.min(rate, (top + deliveredAtCut) / 2))
    end
    targetRate = math.max(minRate, cruiseFactor * top)
    rateAfterCut = math.max(minRate, cutFactor * top)
    cutAt = now
    rcall('HSET', KEYS[1], 'deliveredAtCut', tostring(top), 'targetRate', tostring(targetRate),
      'rateAfterCut', tostring(rateAfterCut), 'cutAt', tostring(cutAt))
    verdict = 'cut'
  end
  rcall('HSET', KEYS[1], 'holdUntil', tostring(now + holdMs))
  if verdict == 'cut' then
    -- Slots reserved at the old rate are given back (rate-confirm-3.lua); the next one is a spacing away.
    rcall('HSET', KEYS[1], 'adjustedAt', tostring(now), 'nextSlotAt', tostring(now + 1000 / rateAt(now)))
  end
end
if recent >= stormThrottles and now >= pauseUntil then
  local st = rcall('HMGET', KEYS[1], 'storms', 'lastStormAt')
  local n = tonumber(st[1]) or 0
  if now - (tonumber(st[2]) or 0) > 30000 then n = 0 end
  n = n + 1
  pause = math.min(stormMax, stormBase * 2 ^ (n - 1))
  local rate = rateAt(now)
  rcall('HSET', KEYS[1], 'storms', n, 'lastStormAt', tostring(now), 'pauseUntil', tostring(now + pause),
    'targetRate', tostring(math.max(minRate, rate * cutFactor)),
    'rateAfterCut', tostring(math.max(minRate, rate * cutFactor * cutFactor)),
    'cutAt', tostring(now + pause), 'holdUntil', tostring(now + pause + holdMs), 'adjustedAt', tostring(now))
  verdict = 'storm'
end
keep()
return cjson.encode({verdict = verdict, pauseMs = math.ceil(pause)})
