-- wrk script: POST a stream of distinct, valid payment submissions (no two bodies alike, so the
-- front door's dedupe never short-cuts the accept path). Citizen IDs carry a correct ISO 7064
-- MOD 11-2 check character.
--   wrk -t2 -c100 -d30s --latency -s bench/wrk/submissions.lua http://127.0.0.1:8080/v1/submissions
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local counter = 0
local thread_id = 0
local ids = {}

local function resident_id(n)
  local first17 = string.format("110101198%01d0101%03d", n % 10, n % 1000)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(first17:sub(i, i)) * weights[i]
  end
  local r = sum % 11
  return first17 .. checks:sub(r + 1, r + 1)
end

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  for n = 0, 9999 do
    ids[n] = resident_id(n)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = counter * 16 + thread_id
  local body = string.format(
    '{"kind":"payment","citizen_id":"%s","payload":{"scheme":"medical","amount_cents":%d,"period":"2026-10"}}',
    ids[n % 10000], 1 + (n % 9999999))
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d, connect errors: %d, timeouts: %d\n",
    summary.errors.status, summary.errors.connect, summary.errors.timeout))
end
