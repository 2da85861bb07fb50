--[[
  Writes one worker process's metrics snapshot and lists the process in the fleet's index, together.

  Input:
    KEYS[1] the process's snapshot (string, with a time to live)
    KEYS[2] the index of publishing processes (sorted set: member = process id, score = time of publish)
    Both under the queue's prefix (`queue.toKey('cams-metrics')`), so on a cluster they share its hash tag.

    ARGV[1] cjson table:
      id        the process's id in the index
      snapshot  prom-client's registry as JSON
      ttlMs     lifetime of the snapshot when it is not written again
      at        time of the publish on the Redis server's clock, ms

  Output: a cjson object {published = true}
]]
local args = cjson.decode(ARGV[1])
if type(args.id) ~= 'string' or type(args.snapshot) ~= 'string' or type(args.ttlMs) ~= 'number'
  or type(args.at) ~= 'number' then
  error('cams-enrich metrics: arguments id, snapshot, ttlMs and at are required')
end
redis.call('SET', KEYS[1], args.snapshot, 'PX', args.ttlMs)
redis.call('ZADD', KEYS[2], args.at, args.id)
return cjson.encode({published = true})
