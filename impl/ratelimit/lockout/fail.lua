-- KEYS[1] pair hash, KEYS[2] account hash; ARGV pair window ms, account
-- window ms. A window starts with its key's first failure: the key
-- expires with it.
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'n', 1)
  if redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[i])
  end
end
return 1
