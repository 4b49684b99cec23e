-- KEYS: retry index of a kind in one shard; ARGV: ticket prefix of the shard, now, most tickets, seconds of the first re-arm
-- The overdue tickets of the index that still wait for their message, with that message; each is
-- re-armed (doubling each time it is swept), so that one sweep republishes it once and a copy that was
-- only slow (a long work queue) costs a handful of duplicates at most, each harmless.
--#include record
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, tid in ipairs(due) do
  compact(ARGV[1] .. tid)
  local f = redis.call('HMGET', ARGV[1] .. tid, F.status, F.parcel, F.swept)
  if f[1] ~= 'retrying' or not f[2] then
    redis.call('ZREM', KEYS[1], tid)
  else
    local swept = tonumber(f[3] or '0')
    redis.call('HSET', ARGV[1] .. tid, F.swept, swept + 1)
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[4]) * 2 ^ math.min(swept, 6), tid)
    out[#out + 1] = tid
    out[#out + 1] = f[2]
  end
end
return out
