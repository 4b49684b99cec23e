-- KEYS: ticket, idempotency key or "", dedupe key, enqueued counter, and the names the idempotency and
--       dedupe keys had before they were shortened (read, never written: for a day after an upgrade)
-- ARGV: ticket_id, ticket_prefix, body_digest, now, pending_ttl, idem_ttl, dedupe_ttl, kind, citizen,
--       batch_id or "", "1" when the ticket is scheduled for a later window (it takes its place in line,
--       its sequence number, only when it is released), (unused), its place in the kind's line as the
--       front door estimates it over every shard, or "" (then the shard's own count is its place),
--       the owner: the keyed digest of the client (citizen or enterprise) whose token or key may read
--       the ticket's result
-- Every key is in the ticket's key shard; the enqueued counter is the shard's share of the kind's.
-- An idempotency key stores "ticket_id|body digest", the digest's first KEPT_DIGEST hex digits (16 in
-- store format 2, 32 in format 1, all 64 before that): two bodies are the same when the digits kept
-- agree. In format 2 a new record has no ``attempts`` (0) and no ``updated_at`` (its ``created_at``)
-- until they change.
local KEPT_DIGEST = {{KEPT_DIGEST}}
local function same_body(stored, digest)
  return string.sub(digest, 1, #stored) == stored
end
local function get_either(key, legacy)
  local value = false
  if key ~= '' then value = redis.call('GET', key) end
  if not value and legacy and legacy ~= '' then value = redis.call('GET', legacy) end
  return value
end
local function reserve(K, A)
  local prefix = A[2]
  local function open_ticket(tid)
    compact(prefix .. tid)
    local st = redis.call('HGET', prefix .. tid, F.status)
    return st, st and st ~= 'done' and st ~= 'failed'
  end
  local remembered = string.sub(A[3], 1, KEPT_DIGEST) -- what an idempotency key keeps of the digest
  if K[2] ~= '' then
    local stored = get_either(K[2], K[5])
    if stored then
      local sep = string.find(stored, '|', 1, true)
      local tid, digest = string.sub(stored, 1, sep - 1), string.sub(stored, sep + 1)
      if not same_body(digest, A[3]) then return {'conflict', tid} end
      if redis.call('EXISTS', prefix .. tid) == 1 then return {'existing', tid} end
    end
  end
  local prior = get_either(K[3], K[6])
  if prior then
    local st, open = open_ticket(prior)
    if open then
      if K[2] ~= '' then redis.call('SET', K[2], prior .. '|' .. remembered, 'EX', A[6]) end
      return {'duplicate', prior}
    end
  end
  redis.call('HSET', K[1], F.status, 'accepting', F.kind, A[8], F.citizen, A[9], F.created_at, A[4],
    F.owner, A[14])
  if FORMAT == 1 then redis.call('HSET', K[1], F.attempts, 0, F.updated_at, A[4]) end
  local seq = false
  if A[11] ~= '1' then
    seq = redis.call('INCR', K[4])
    if A[13] and A[13] ~= '' then seq = tonumber(A[13]) end
    redis.call('HSET', K[1], F.seq, seq)
  end
  if A[10] ~= '' then redis.call('HSET', K[1], F.batch, A[10]) end
  redis.call('EXPIRE', K[1], A[5])
  redis.call('SET', K[3], A[1], 'EX', A[7])
  if K[2] ~= '' then redis.call('SET', K[2], A[1] .. '|' .. remembered, 'EX', A[6]) end
  if seq then return {'created', A[1], seq} end
  return {'created', A[1]}
end
