"""Lua scripts for the ticket store. Each transition is one atomic script so that concurrent front
doors and redelivered messages can never interleave half-updates.

All keys a script touches are passed in KEYS except the ticket a stored idempotency or dedupe entry
points to, which is derived from the ticket prefix (ARGV), and the keys of the batch scripts: fine on a
primary with replicas, which is the deployment the README describes; Redis Cluster would need hash tags.

The batch scripts (``RESERVE_MANY``, ``COMMIT_MANY``) run the single scripts' functions over many tickets
in one call. Each ticket's own values travel as one tab-separated argument, because encoding arguments
is most of what a 10,000-item batch costs redis-py: about 26 % of a front door's time went into packing
the 15 arguments of each single call.
"""

from queue_config.planning import lateness

_SPLIT_FN = """
local function split(s)
  local out, from = {}, 1
  while true do
    local at = string.find(s, '\t', from, true)
    if not at then
      out[#out + 1] = string.sub(s, from)
      return out
    end
    out[#out + 1] = string.sub(s, from, at - 1)
    from = at + 1
  end
end
"""

# KEYS: ticket, idempotency key or "", dedupe key, enqueued counter
# ARGV: ticket_id, ticket_prefix, body_digest, now, pending_ttl, idem_ttl, dedupe_ttl, kind, citizen,
#       batch_id or "", "1" when the ticket is scheduled for a later window (it takes its place in line,
#       its sequence number, only when it is released)
_RESERVE_FN = """
local function reserve(K, A)
  local prefix = A[2]
  local function open_ticket(tid)
    local st = redis.call('HGET', prefix .. tid, 'status')
    return st, st and st ~= 'done' and st ~= 'failed'
  end
  if K[2] ~= '' then
    local stored = redis.call('GET', K[2])
    if stored then
      local sep = string.find(stored, '|', 1, true)
      local tid, digest = string.sub(stored, 1, sep - 1), string.sub(stored, sep + 1)
      if digest ~= A[3] then return {'conflict', tid} end
      if redis.call('EXISTS', prefix .. tid) == 1 then return {'existing', tid} end
    end
  end
  local prior = redis.call('GET', K[3])
  if prior then
    local st, open = open_ticket(prior)
    if open then
      if K[2] ~= '' then redis.call('SET', K[2], prior .. '|' .. A[3], 'EX', A[6]) end
      return {'duplicate', prior}
    end
  end
  redis.call('HSET', K[1], 'status', 'accepting', 'kind', A[8], 'citizen', A[9],
    'attempts', 0, 'created_at', A[4], 'updated_at', A[4])
  local seq = false
  if A[11] ~= '1' then
    seq = redis.call('INCR', K[4])
    redis.call('HSET', K[1], 'seq', seq)
  end
  if A[10] ~= '' then redis.call('HSET', K[1], 'batch', A[10]) end
  redis.call('EXPIRE', K[1], A[5])
  redis.call('SET', K[3], A[1], 'EX', A[7])
  if K[2] ~= '' then redis.call('SET', K[2], A[1] .. '|' .. A[3], 'EX', A[6]) end
  if seq then return {'created', A[1], seq} end
  return {'created', A[1]}
end
"""
RESERVE = _RESERVE_FN + "return reserve(KEYS, ARGV)\n"

# Lateness: how long a promised ticket took, from its promise to its finish, over the model's p90 for it,
# counted in the geometric buckets of ``queue_config.planning.lateness`` (the controller calibrates
# promises by it).
_LATENESS_FN = f"""
local function score_lateness(key, took, unit, ttl)
  if not unit or unit <= 0 then return end
  local b = math.ceil(math.log(math.max(took, 0.001) / unit) / math.log({lateness.STEP}))
  b = math.max(-{lateness.LIMIT}, math.min({lateness.LIMIT}, b))
  redis.call('HINCRBY', key, b, 1)
  redis.call('EXPIRE', key, ttl)
end
"""

# KEYS: ticket, ETA outcomes, lateness bucket of now
# ARGV: now, ticket_ttl, promised p90 deadline (unix seconds) or "", scheduled_for (unix seconds) or "",
#       the model's p90 (seconds) behind the promise or "", lateness bucket ttl
# A fast worker may finish the ticket before its front door commits: then the promise is scored here.
_COMMIT_FN = """
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
"""
COMMIT = _LATENESS_FN + _COMMIT_FN + "return commit(KEYS, ARGV)\n"

# KEYS: enqueued counter of the kind
# ARGV: ticket_prefix, idempotency key prefix of the scope, dedupe key prefix of the scope, now,
#       pending_ttl, idem_ttl, dedupe_ttl, kind, batch_id or "", then one argument per ticket:
#       "ticket_id<TAB>body_digest<TAB>idempotency digest or ''<TAB>citizen<TAB>'1' when scheduled or ''"
# Returns three values per ticket: outcome, ticket ID, sequence number or 0.
RESERVE_MANY = (
    _SPLIT_FN
    + _RESERVE_FN
    + """
local out = {}
for i = 10, #ARGV do
  local f = split(ARGV[i])
  local idem = ''
  if f[3] ~= '' then idem = ARGV[2] .. f[3] end
  local r = reserve({ARGV[1] .. f[1], idem, ARGV[3] .. f[2], KEYS[1]},
    {f[1], ARGV[1], f[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], f[4], ARGV[9], f[5]})
  out[#out + 1] = r[1]
  out[#out + 1] = r[2]
  out[#out + 1] = r[3] or 0
end
return out
"""
)

# KEYS: ETA outcomes of the kind, its lateness bucket of now
# ARGV: ticket_prefix, now, ticket_ttl, lateness bucket ttl, then one argument per ticket:
#       "ticket_id<TAB>promised p90 deadline or ''<TAB>scheduled_for or ''<TAB>model p90 or ''"
COMMIT_MANY = (
    _SPLIT_FN
    + _LATENESS_FN
    + _COMMIT_FN
    + """
for i = 5, #ARGV do
  local f = split(ARGV[i])
  commit({ARGV[1] .. f[1], KEYS[1], KEYS[2]}, {ARGV[2], ARGV[3], f[2], f[3], f[4], ARGV[4]})
end
return #ARGV - 4
"""
)

# KEYS: ticket, idempotency key or "", dedupe key, finished counter of its kind; ARGV: ticket_id
# Undo a reservation whose publish failed, but only while nobody else has moved the ticket on. A place in
# line it took counts as finished, so that queued minus finished stays the number of tickets waiting.
DISCARD = """
if redis.call('HGET', KEYS[1], 'status') ~= 'accepting' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'seq') == 1 then redis.call('INCR', KEYS[4]) end
redis.call('DEL', KEYS[1])
if KEYS[2] ~= '' then
  local stored = redis.call('GET', KEYS[2])
  if stored and string.sub(stored, 1, #ARGV[1]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""

# KEYS: ticket, events channel, retry index of its kind
# ARGV: ticket_id, now, kind, created_at, citizen, ticket_ttl
# Returns status, attempts begun (this one included), and transient failures the core answered so far.
BEGIN_ATTEMPT = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then
  -- The record is gone (Redis restored from an older state): rebuild it from the message, which is
  -- the durable copy, rather than dropping an accepted ticket.
  redis.call('HSET', KEYS[1], 'kind', ARGV[3], 'created_at', ARGV[4], 'citizen', ARGV[5],
    'attempts', 0, 'status', 'queued', 'updated_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  st = 'queued'
end
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if st == 'done' or st == 'failed' then
  return {st, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0'), failures}
end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'processing', 'updated_at', ARGV[2])
-- Its message is back: nothing left for the retry sweeper to republish.
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[1], 'parcel', 'swept')
-- A record its front door never committed (Redis was away after the publish) still has the short TTL
-- of a reservation: it now lives as long as any ticket.
if st == 'accepting' then redis.call('EXPIRE', KEYS[1], ARGV[6]) end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return {'processing', n, failures}
"""

# KEYS: ticket, events channel, retry index of its kind
# ARGV: ticket_id, now, error json, when the message is due back at a worker (unix seconds), the message
# Counts the core's transient answer and keeps a copy of the message until it is back: a message that
# crosses from a delay queue back to its work queue is dead-lettered at most once by RabbitMQ and is lost
# if the broker stops during that hop, which left tickets ``retrying`` for ever.
RETRYING = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st or st == 'done' or st == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'retrying', 'updated_at', ARGV[2], 'error', ARGV[3], 'parcel', ARGV[5])
redis.call('HDEL', KEYS[1], 'swept')
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""

# KEYS: retry index of a kind; ARGV: ticket_prefix, now, most tickets, seconds of the first re-arm
# The overdue tickets of the index that still wait for their message, with that message; each is
# re-armed (doubling each time it is swept), so that one sweep republishes it once and a copy that was
# only slow (a long work queue) costs a handful of duplicates at most, each harmless.
SWEEP_RETRIES = """
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, tid in ipairs(due) do
  local f = redis.call('HMGET', ARGV[1] .. tid, 'status', 'parcel', 'swept')
  if f[1] ~= 'retrying' or not f[2] then
    redis.call('ZREM', KEYS[1], tid)
  else
    local swept = tonumber(f[3] or '0')
    redis.call('HSET', ARGV[1] .. tid, 'swept', swept + 1)
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[4]) * 2 ^ math.min(swept, 6), tid)
    out[#out + 1] = tid
    out[#out + 1] = f[2]
  end
end
return out
"""

# KEYS: ticket, events channel, finished counter, finished-rate bucket, ETA outcomes, dead-letter index,
#       batch, batch's finished set, batch callbacks due ("" for the last three without a batch),
#       lateness bucket of now, retry index of its kind
# ARGV: ticket_id, now, status (done|failed), field (result|error), json, bucket_ttl, batch_id or ""
# A ticket that was promised a p90 ETA counts, once, as a hit or a miss of that promise, and its lateness
# is scored. The last ticket of a batch to finish books the batch's callback, unless it was already
# delivered.
FINISH = (
    _LATENESS_FN
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'done' or st == 'failed' then return 0 end
local p = redis.call('HMGET', KEYS[1], 'promised_by', 'promised_at', 'promise_model')
local promised = tonumber(p[1] or '')
if promised then
  redis.call('HINCRBY', KEYS[5], tonumber(ARGV[2]) <= promised and 'hit' or 'miss', 1)
  if p[2] then score_lateness(KEYS[10], tonumber(ARGV[2]) - tonumber(p[2]), tonumber(p[3]), ARGV[6]) end
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated_at', ARGV[2], ARGV[4], ARGV[5])
if ARGV[3] == 'done' then redis.call('HDEL', KEYS[1], 'error') end
redis.call('HDEL', KEYS[1], 'parcel', 'swept')
redis.call('ZREM', KEYS[11], ARGV[1])
redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[6])
if ARGV[3] == 'failed' then redis.call('ZADD', KEYS[6], ARGV[2], ARGV[1]) end
if KEYS[7] ~= '' then
  redis.call('SADD', KEYS[8], ARGV[1])
  local b = redis.call('HMGET', KEYS[7], 'state', 'created', 'callback_url', 'callback_delivered_at')
  if b[1] == 'accepted' and b[3] and b[3] ~= '' and not b[4]
     and redis.call('SCARD', KEYS[8]) >= tonumber(b[2]) then
    redis.call('ZADD', KEYS[9], 'NX', ARGV[2], ARGV[7])
  end
end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS: ticket, enqueued counter, events channel; ARGV: ticket_id, now
# A scheduled ticket released into its kind's queue takes its place in line now.
RELEASE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'scheduled' then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'updated_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'scheduled_for')
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
"""

# KEYS: ticket, enqueued counter, events channel, dead-letter index; ARGV: ticket_id, now
# An operator replays a failed ticket: it queues again with a fresh attempt budget.
REPLAY = """
if redis.call('HGET', KEYS[1], 'status') ~= 'failed' then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'attempts', 0, 'updated_at', ARGV[2],
  'replayed_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'error', 'promised_by', 'promised_at', 'promise_model', 'failures')
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
"""
