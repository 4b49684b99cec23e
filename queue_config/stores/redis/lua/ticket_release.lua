-- KEYS: ticket, enqueued counter of its kind in its shard; ARGV: ticket_id, now, events channel, its
-- place in the kind's line as the front door estimates it, or "" (then the shard's count)
-- A scheduled ticket released into its kind's queue takes its place in line now.
--#include record
compact(KEYS[1])
if redis.call('HGET', KEYS[1], F.status) ~= 'scheduled' then return 0 end
local seq = redis.call('INCR', KEYS[2])
if ARGV[4] ~= '' then seq = tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], F.status, 'queued', F.seq, seq, F.updated_at, ARGV[2])
redis.call('HDEL', KEYS[1], F.scheduled_for)
redis.call('SPUBLISH', ARGV[3], ARGV[1])
return 1
