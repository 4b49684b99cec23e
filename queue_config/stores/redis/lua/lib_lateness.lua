-- Lateness: how long a promised ticket took, from its promise to its finish, over the model's p90 for it,
-- counted in the geometric buckets of ``queue_config.planning.lateness`` (the controller calibrates
-- promises by it).
local function score_lateness(key, took, unit, ttl)
  if not unit or unit <= 0 then return end
  local b = math.ceil(math.log(math.max(took, 0.001) / unit) / math.log({{LATENESS_STEP}}))
  b = math.max(-{{LATENESS_LIMIT}}, math.min({{LATENESS_LIMIT}}, b))
  redis.call('HINCRBY', key, b, 1)
  redis.call('EXPIRE', key, ttl)
end
