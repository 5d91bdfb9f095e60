-- GCRA check of one event for KEYS[1].
-- ARGV[1]: emission interval T in microseconds (window / limit)
-- ARGV[2]: burst B (events a key may spend at once)
-- Returns {allowed (0|1), remaining, retry_after_us, reset_us}.
-- The key holds the theoretical arrival time (TAT) in microseconds of the
-- Redis server's clock and expires when it is in the past, i.e. when the
-- key has its whole burst again.
local key = KEYS[1]
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', key) or now) or now
if tat < now then
  tat = now
end
local new_tat = tat + emission
local diff = now - (new_tat - emission * burst)
if diff < 0 then
  return {0, 0, -diff, tat - now}
end
redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor(diff / emission), 0, new_tat - now}
