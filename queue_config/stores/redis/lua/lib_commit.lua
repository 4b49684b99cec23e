-- KEYS: ticket, ETA outcomes, lateness bucket of now
-- ARGV: now, ticket_ttl, promised p90 deadline (unix seconds) or "", scheduled_for (unix seconds) or "",
--       the model's p90 (seconds) behind the promise or "", lateness bucket ttl
-- A fast worker may finish the ticket before its front door commits: then the promise is scored here.
-- ``accepting`` reads as ``queued`` (or ``scheduled``) already, so in store format 2 the commit leaves
-- ``updated_at`` be.
local function commit(K, A)
  compact(K[1])
  local st = redis.call('HGET', K[1], F.status)
  if st == 'accepting' then
    if A[4] ~= '' then
      redis.call('HSET', K[1], F.status, 'scheduled', F.scheduled_for, A[4])
    else
      redis.call('HSET', K[1], F.status, 'queued')
    end
    if FORMAT == 1 then redis.call('HSET', K[1], F.updated_at, A[1]) end
  end
  local promised = tonumber(A[3])
  if promised and st then
    if st == 'done' or st == 'failed' then
      local finished = tonumber(redis.call('HGET', K[1], F.updated_at))
      redis.call('HINCRBY', K[2], finished <= promised and 'hit' or 'miss', 1)
      score_lateness(K[3], finished - tonumber(A[1]), tonumber(A[5]), A[6])
    else
      redis.call('HSET', K[1], F.promised_by, A[3])
      if A[5] ~= '' then redis.call('HSET', K[1], F.promise_model, A[5]) end
      if A[5] ~= '' and FORMAT == 1 then redis.call('HSET', K[1], 'promised_at', A[1]) end
    end
  end
  return redis.call('EXPIRE', K[1], A[2])
end
