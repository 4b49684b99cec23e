-- KEYS: ticket, dedupe key, enqueued counter of its kind in its shard
-- ARGV: as ``reserve`` (lib_reserve.lua), with the idempotency key or "" as the 12th
--#include reserve
return reserve({KEYS[1], ARGV[12], KEYS[2], KEYS[3]}, ARGV)
