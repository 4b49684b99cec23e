-- KEYS: ticket, enqueued counter of its kind in its shard, dead-letter index of the shard
-- ARGV: ticket_id, now, events channel, its place in line as estimated, or "" (then the shard's count)
-- An operator replays a failed ticket: it queues again with a fresh attempt budget.
--#include record
compact(KEYS[1])
if redis.call('HGET', KEYS[1], F.status) ~= 'failed' then return 0 end
local seq = redis.call('INCR', KEYS[2])
if ARGV[4] ~= '' then seq = tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], F.status, 'queued', F.seq, seq, F.attempts, 0, F.updated_at, ARGV[2],
  F.replayed_at, ARGV[2])
redis.call('HDEL', KEYS[1], F.error, F.promised_by, F.promise_model, F.failures, 'promised_at')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SPUBLISH', ARGV[3], ARGV[1])
return 1
