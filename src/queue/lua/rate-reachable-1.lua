--[[
  The CAMS endpoint answered: forgets that it was down.

  Input:
    KEYS[1] state hash

  Output: a cjson object {clearAlert}: true when an endpoint-down alert was raised
  (rate-unreachable-3.lua) and should be cleared now.
]]
local d = redis.call('HMGET', KEYS[1], 'downSince', 'downAlerted')
if not d[1] then return cjson.encode({clearAlert = false}) end
redis.call('HDEL', KEYS[1], 'downSince', 'downLastAt', 'downPauses', 'downAlerted')
return cjson.encode({clearAlert = d[2] == '1'})
