-- KEYS: ticket, enqueued counter, events channel, dead-letter index; ARGV: ticket_id, now
-- An operator replays a failed ticket: it queues again with a fresh attempt budget.
if redis.call('HGET', KEYS[1], 'status') ~= 'failed' then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'attempts', 0, 'updated_at', ARGV[2],
  'replayed_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'error', 'promised_by', 'promised_at', 'promise_model', 'failures')
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
