-- KEYS (all in the ticket's shard): ticket, finished counter, finished-rate bucket, ETA outcomes,
--       dead-letter index, lateness bucket of now, retry index of its kind, done index (for the archive)
-- ARGV: ticket_id, now, status (done|failed), field (result|error), json, bucket_ttl, batch_id or "",
--       events channel, then the batch, its finished set and the shard's batch callbacks due ("" for
--       the three without a batch; a batch is in its tickets' shard)
-- A ticket that was promised a p90 ETA counts, once, as a hit or a miss of that promise, and its lateness
-- is scored, from the ticket's creation (format 1: from its promise). The last ticket of a batch to
-- finish books the batch's callback, unless it was already delivered.
--#include record
--#include lateness
compact(KEYS[1])
local st = redis.call('HGET', KEYS[1], F.status)
if st == 'done' or st == 'failed' then return 0 end
local p = redis.call('HMGET', KEYS[1], F.promised_by, F.created_at, F.promise_model)
local promised = tonumber(p[1] or '')
if promised then
  redis.call('HINCRBY', KEYS[4], tonumber(ARGV[2]) <= promised and 'hit' or 'miss', 1)
  local since = p[2]
  if FORMAT == 1 then since = redis.call('HGET', KEYS[1], 'promised_at') or since end
  if since and p[3] then
    score_lateness(KEYS[6], tonumber(ARGV[2]) - tonumber(since), tonumber(p[3]), ARGV[6])
  end
end
redis.call('HSET', KEYS[1], F.status, ARGV[3], F.updated_at, ARGV[2], F[ARGV[4]], ARGV[5])
if ARGV[3] == 'done' then redis.call('HDEL', KEYS[1], F.error) end
redis.call('HDEL', KEYS[1], F.parcel, F.swept)
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[6])
if ARGV[3] == 'failed' then
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
else
  redis.call('ZADD', KEYS[8], ARGV[2], ARGV[1])
end
if ARGV[9] ~= '' then
  redis.call('SADD', ARGV[10], ARGV[1])
  local b = redis.call('HMGET', ARGV[9], 'state', 'created', 'callback_url', 'callback_delivered_at')
  if b[1] == 'accepted' and b[3] and b[3] ~= '' and not b[4]
     and redis.call('SCARD', ARGV[10]) >= tonumber(b[2]) then
    redis.call('ZADD', ARGV[11], 'NX', ARGV[2], ARGV[7])
  end
end
redis.call('SPUBLISH', ARGV[8], ARGV[1])
return 1
