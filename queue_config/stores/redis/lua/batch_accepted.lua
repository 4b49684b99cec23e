-- KEYS: batch, finished set, callbacks due; ARGV: batch_id, created count, accepted count, now
-- The batch is complete when every ticket it created has finished; workers may have finished them all
-- before intake got here, so the check is made here as well as in FINISH.
redis.call('HSET', KEYS[1], 'state', 'accepted', 'created', ARGV[2], 'accepted', ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'callback_url', 'callback_delivered_at')
if b[1] and b[1] ~= '' and not b[2] and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[1])
end
return 1
