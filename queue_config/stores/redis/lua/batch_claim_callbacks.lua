-- KEYS: callbacks due; ARGV: now, lease seconds, how many
-- Claim due callbacks by pushing their due time past a lease: a claimant that dies is replaced when
-- the lease ends, and two processes never deliver the same callback at the same time.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id) end
return due
