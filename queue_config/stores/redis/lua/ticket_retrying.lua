-- KEYS: ticket, retry index of its kind in its shard
-- ARGV: ticket_id, now, error json, when the message is due back at a worker (unix seconds), the message,
--       events channel
-- Counts the core's transient answer and keeps a copy of the message until it is back: a message that
-- crosses from a delay queue back to its work queue is dead-lettered at most once by RabbitMQ and is lost
-- if the broker stops during that hop, which left tickets ``retrying`` for ever.
--#include record
compact(KEYS[1])
local st = redis.call('HGET', KEYS[1], F.status)
if not st or st == 'done' or st == 'failed' then return 0 end
redis.call('HSET', KEYS[1], F.status, 'retrying', F.updated_at, ARGV[2], F.error, ARGV[3], F.parcel, ARGV[5])
redis.call('HDEL', KEYS[1], F.swept)
redis.call('HINCRBY', KEYS[1], F.failures, 1)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('SPUBLISH', ARGV[6], ARGV[1])
return 1
