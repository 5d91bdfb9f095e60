-- KEYS[1] pair hash, KEYS[2] account hash (field n: failures, s: last
-- slow-lane attempt in ms); ARGV pairFailures, accountFailures, slowLane ms.
-- Returns {allowed (0/1), retry ms}. On the Redis server's clock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pc = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if pc >= tonumber(ARGV[1]) then
  return {0, math.max(redis.call('PTTL', KEYS[1]), 0)}
end
local ac = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if ac < tonumber(ARGV[2]) then
  return {1, 0}
end
if pc > 0 then
  return {0, math.max(redis.call('PTTL', KEYS[2]), 0)}
end
local lane = tonumber(ARGV[3])
local slow = redis.call('HGET', KEYS[2], 's')
if slow and now - tonumber(slow) < lane then
  return {0, lane - (now - tonumber(slow))}
end
redis.call('HSET', KEYS[2], 's', now)
return {1, 0}
