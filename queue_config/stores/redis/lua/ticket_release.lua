-- KEYS: ticket, enqueued counter, events channel; ARGV: ticket_id, now
-- A scheduled ticket released into its kind's queue takes its place in line now.
if redis.call('HGET', KEYS[1], 'status') ~= 'scheduled' then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'updated_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'scheduled_for')
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
