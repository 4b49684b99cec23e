--#include reserve
return reserve(KEYS, ARGV)
