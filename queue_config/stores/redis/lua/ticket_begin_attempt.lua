-- KEYS: ticket, retry index of its kind in its shard
-- ARGV: ticket_id, now, kind, created_at, citizen, ticket_ttl, events channel
-- Returns status, attempts begun (this one included), and transient failures the core answered so far.
--#include record
compact(KEYS[1])
local st = redis.call('HGET', KEYS[1], F.status)
if not st then
  -- The record is gone (Redis restored from an older state): rebuild it from the message, which is
  -- the durable copy, rather than dropping an accepted ticket.
  redis.call('HSET', KEYS[1], F.kind, ARGV[3], F.created_at, ARGV[4], F.citizen, ARGV[5],
    F.status, 'queued', F.updated_at, ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  st = 'queued'
end
local failures = tonumber(redis.call('HGET', KEYS[1], F.failures) or '0')
if st == 'done' or st == 'failed' then
  return {st, tonumber(redis.call('HGET', KEYS[1], F.attempts) or '0'), failures}
end
local n = redis.call('HINCRBY', KEYS[1], F.attempts, 1)
redis.call('HSET', KEYS[1], F.status, 'processing', F.updated_at, ARGV[2])
-- Its message is back: nothing left for the retry sweeper to republish.
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], F.parcel, F.swept)
-- A record its front door never committed (Redis was away after the publish) still has the short TTL
-- of a reservation: it now lives as long as any ticket.
if st == 'accepting' then redis.call('EXPIRE', KEYS[1], ARGV[6]) end
redis.call('SPUBLISH', ARGV[7], ARGV[1])
return {'processing', n, failures}
