-- KEYS: ticket, idempotency key or "", dedupe key, finished counter of its kind; ARGV: ticket_id
-- Undo a reservation whose publish failed, but only while nobody else has moved the ticket on. A place in
-- line it took counts as finished, so that queued minus finished stays the number of tickets waiting.
if redis.call('HGET', KEYS[1], 'status') ~= 'accepting' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'seq') == 1 then redis.call('INCR', KEYS[4]) end
redis.call('DEL', KEYS[1])
if KEYS[2] ~= '' then
  local stored = redis.call('GET', KEYS[2])
  if stored and string.sub(stored, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
