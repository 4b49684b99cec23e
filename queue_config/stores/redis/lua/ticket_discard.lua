-- KEYS: ticket, dedupe key, finished counter of its kind in its shard; ARGV: ticket_id, idempotency key or ""
-- Undo a reservation whose publish failed, but only while nobody else has moved the ticket on. A place in
-- line it took counts as finished, so that queued minus finished stays the number of tickets waiting.
--#include record
compact(KEYS[1])
if redis.call('HGET', KEYS[1], F.status) ~= 'accepting' then return 0 end
if redis.call('HEXISTS', KEYS[1], F.seq) == 1 then redis.call('INCR', KEYS[3]) end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then
  local stored = redis.call('GET', ARGV[2])
  if stored and string.sub(stored, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', ARGV[2]) end
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
