-- KEYS: ETA outcomes of the kind, its lateness bucket of now
-- ARGV: ticket_prefix, now, ticket_ttl, lateness bucket ttl, then one argument per ticket:
--       "ticket_id<TAB>promised p90 deadline or ''<TAB>scheduled_for or ''<TAB>model p90 or ''"
--#include record
--#include split
--#include lateness
--#include commit
for i = 5, #ARGV do
  local f = split(ARGV[i])
  commit({ARGV[1] .. f[1], KEYS[1], KEYS[2]}, {ARGV[2], ARGV[3], f[2], f[3], f[4], ARGV[4]})
end
return #ARGV - 4
