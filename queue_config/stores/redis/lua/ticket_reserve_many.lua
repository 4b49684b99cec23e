-- KEYS: enqueued counter of the kind in the tickets' shard (every ticket of one call is in one shard)
-- ARGV: ticket_prefix of the shard, (unused), (unused), now, pending_ttl, idem_ttl, dedupe_ttl, kind,
--       batch_id or "", the place in line of the first ticket queued here, the owner (keyed digest of the
--       enterprise), then one argument per ticket: "ticket_id<TAB>body_digest<TAB>idempotency key or ''
--       <TAB>citizen<TAB>'1' when scheduled or ''<TAB>dedupe key<TAB>legacy idempotency key or ''<TAB>
--       legacy dedupe key" (every key in the tickets' shard)
-- Returns three values per ticket: outcome, ticket ID, sequence number or 0.
--#include record
--#include split
--#include reserve
local out = {}
local given = 0
for i = 12, #ARGV do
  local f = split(ARGV[i])
  local place = ''
  if f[5] ~= '1' then place = tonumber(ARGV[10]) + given end
  local r = reserve({ARGV[1] .. f[1], f[3], f[6], KEYS[1], f[7], f[8]},
    {f[1], ARGV[1], f[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], f[4], ARGV[9], f[5], '', place, ARGV[11]})
  if r[1] == 'created' and r[3] then given = given + 1 end
  out[#out + 1] = r[1]
  out[#out + 1] = r[2]
  out[#out + 1] = r[3] or 0
end
return out
