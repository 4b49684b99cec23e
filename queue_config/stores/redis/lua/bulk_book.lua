-- KEYS: booked hash; ARGV: items, oldest window still of interest, then (start, budget) pairs
-- Returns (start, count) pairs in booking order.
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], field) end
end
local left = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV, 2 do
  if left <= 0 then break end
  local start, budget = ARGV[i], tonumber(ARGV[i + 1])
  local used = tonumber(redis.call('HGET', KEYS[1], start) or '0')
  local take = math.min(left, budget - used)
  if take > 0 then
    redis.call('HINCRBY', KEYS[1], start, take)
    left = left - take
    table.insert(out, start)
    table.insert(out, take)
  end
end
redis.call('EXPIRE', KEYS[1], 172800)
return out
