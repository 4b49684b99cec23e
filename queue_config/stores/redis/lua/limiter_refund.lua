-- KEYS: subjects charged by a GCRA call that another slot's call refused; ARGV: per subject, its
-- emission interval (ms), then the cost. Gives the charge back (Redis Cluster: see limiter.py).
local cost = tonumber(ARGV[#ARGV])
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > 0 then redis.call('SET', key, tat - tonumber(ARGV[i]) * cost, 'KEEPTTL') end
end
return 1
