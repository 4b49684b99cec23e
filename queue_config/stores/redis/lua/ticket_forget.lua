-- KEYS: the shard's done index. ARGV: the ticket key prefix of the shard, then (ticket_id, updated_at)
-- pairs: tickets the archive now holds as they were at updated_at.
-- Each leaves Redis only if it is still done and unchanged since it was archived (an operator cannot
-- replay a done ticket, but the check keeps a record that moved on from being lost); either way it
-- leaves the index. Returns how many records were deleted.
--#include record
local deleted = 0
for i = 2, #ARGV, 2 do
  local key = ARGV[1] .. ARGV[i]
  compact(key)
  local f = redis.call('HMGET', key, F.status, F.updated_at)
  if f[1] == 'done' and f[2] == ARGV[i + 1] then
    redis.call('DEL', key)
    deleted = deleted + 1
  end
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return deleted
