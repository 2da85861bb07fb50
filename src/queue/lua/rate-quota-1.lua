--[[
  The fleet's quota, stored with the rate controller's state: the first process stores its own, the
  next ones compare theirs with it, and one started to change it replaces it.

  Input:
    KEYS[1] state hash

    ARGV[1] cjson table:
      quota       the caller's quota, calls per second
      replace     true: store the caller's quota even when another one is stored
      stateTtlMs  how long the state lives without use

  Output: a cjson object {outcome, quota, previous}
    outcome   'stored' (none was stored), 'same', 'replaced' (replace was set), 'different' (another
              quota is stored and was kept)
    quota     the quota stored now
    previous  the quota stored before; null when none was
]]
local args = cjson.decode(ARGV[1])
local quota = args.quota
local ttl = args.stateTtlMs
if type(quota) ~= 'number' or type(ttl) ~= 'number' or type(args.replace) ~= 'boolean' then
  error('cams-enrich rate controller: arguments quota, replace and stateTtlMs are required')
end
local previous = tonumber(redis.call('HGET', KEYS[1], 'quota'))
local outcome
if previous == nil then
  outcome = 'stored'
elseif previous == quota then
  outcome = 'same'
elseif args.replace then
  outcome = 'replaced'
else
  redis.call('PEXPIRE', KEYS[1], ttl)
  return cjson.encode({outcome = 'different', quota = previous, previous = previous})
end
redis.call('HSET', KEYS[1], 'quota', tostring(quota))
redis.call('PEXPIRE', KEYS[1], ttl)
return cjson.encode({outcome = outcome, quota = quota, previous = previous or cjson.null})
