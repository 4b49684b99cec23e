-- KEYS: ticket, ETA outcomes, lateness bucket of now
-- ARGV: now, ticket_ttl, promised p90 deadline (unix seconds) or "", scheduled_for (unix seconds) or "",
--       the model's p90 (seconds) behind the promise or "", lateness bucket ttl
-- A fast worker may finish the ticket before its front door commits: then the promise is scored here.
local function commit(K, A)
  local st = redis.call('HGET', K[1], 'status')
  if st == 'accepting' then
    if A[4] ~= '' then
      redis.call('HSET', K[1], 'status', 'scheduled', 'scheduled_for', A[4], 'updated_at', A[1])
    else
      redis.call('HSET', K[1], 'status', 'queued', 'updated_at', A[1])
    end
  end
  local promised = tonumber(A[3])
  if promised and st then
    if st == 'done' or st == 'failed' then
      local finished = tonumber(redis.call('HGET', K[1], 'updated_at'))
      redis.call('HINCRBY', K[2], finished <= promised and 'hit' or 'miss', 1)
      score_lateness(K[3], finished - tonumber(A[1]), tonumber(A[5]), A[6])
    else
      redis.call('HSET', K[1], 'promised_by', A[3])
      if A[5] ~= '' then redis.call('HSET', K[1], 'promised_at', A[1], 'promise_model', A[5]) end
    end
  end
  return redis.call('EXPIRE', K[1], A[2])
end
