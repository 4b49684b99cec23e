--#include record
--#include lateness
--#include commit
return commit(KEYS, ARGV)
