-- The ticket record's field names in this store format (``record_fields.py``): F.<long name> is the
-- name a record stores. Every script calls ``compact`` on a record before it reads or writes one: it
-- renames the fields it finds under the other format's names, values as they were (a long name found
-- beside a short one was written after it, by a process of a version before).
local F = {{RECORD_FIELDS}}
local FOREIGN = {{RECORD_FOREIGN}}
local DROPPED = {{RECORD_DROPPED}}
local FORMAT = {{RECORD_FORMAT}}
local function compact(key)
  if redis.call('HEXISTS', key, '{{RECORD_FOREIGN_STATUS}}') == 0 then return end
  local old = redis.call('HGETALL', key)
  for i = 1, #old, 2 do
    local mine = FOREIGN[old[i]]
    if mine then
      redis.call('HSET', key, mine, old[i + 1])
      redis.call('HDEL', key, old[i])
    elseif DROPPED[old[i]] then
      redis.call('HDEL', key, old[i])
    end
  end
end
