-- wrk script: POST a stream of distinct, valid payment submissions (no two bodies alike, so the
-- front door's dedupe never short-cuts the accept path). Citizen IDs carry a correct ISO 7064
-- MOD 11-2 check character.
--   wrk -t2 -c100 -d30s --latency -s bench/wrk/submissions.lua http://127.0.0.1:8080/v1/submissions
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local counter = 0
local next_thread_id = 0
local ids = {}
local threads = {}

local function resident_id(n)
  local first17 = string.format("110101198%01d0101%03d", n % 10, n % 1000)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(first17:sub(i, i)) * weights[i]
  end
  local r = sum % 11
  return first17 .. checks:sub(r + 1, r + 1)
end

-- thread:set assigns a global in the thread's own Lua state: tid must stay global, not local.
function setup(thread)
  thread:set("tid", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- A period of its own for every run (runs start seconds apart), so a second run in the same namespace
-- never repeats the first one's bodies and is never answered by dedupe.
local period

function init(args)
  local t = os.time()
  period = string.format("%04d-%02d", 1900 + math.floor(t / 12) % 1000, 1 + t % 12)
  for n = 0, 9999 do
    ids[n] = resident_id(n)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = counter * 16 + tid
  local body = string.format(
    '{"kind":"payment","citizen_id":"%s","payload":{"scheme":"medical","amount_cents":%d,"period":"%s"}}',
    ids[n % 10000], 1 + (n % 9999999), period)
  return wrk.format(nil, nil, nil, body)
end

-- counts of each status code, per thread (read back in done)
c200, c202, cother = 0, 0, 0
function response(status, headers, body)
  if status == 202 then c202 = c202 + 1 elseif status == 200 then c200 = c200 + 1 else cother = cother + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c202"); b = b + t:get("c200"); c = c + t:get("cother")
  end
  io.write(string.format("202: %d, 200 (repeat of an open ticket): %d, other: %d\n", a, b, c))
  io.write(string.format("non-2xx/3xx: %d, connect errors: %d, timeouts: %d\n",
    summary.errors.status, summary.errors.connect, summary.errors.timeout))
end
