-- KEYS: ticket, dedupe key, enqueued counter of its kind in its shard
-- ARGV: as ``reserve`` (lib_reserve.lua), with the idempotency key or "" as the 12th, and the legacy names
--       of the idempotency key (or "") and of the dedupe key as the 15th and 16th
--#include record
--#include reserve
return reserve({KEYS[1], ARGV[12], KEYS[2], KEYS[3], ARGV[15], ARGV[16]}, ARGV)
