-- wrk script: POST a stream of distinct, valid payment submissions (no two bodies alike, so the
-- front door's dedupe never short-cuts the accept path), each with its citizen's token. The citizens
-- and their tokens come from the file BENCH_TOKENS_FILE names (bench/citizen_tokens.py writes it: one
-- "resident ID<TAB>token" per line).
--   BENCH_TOKENS_FILE=... wrk -t2 -c100 -d30s --latency -s bench/wrk/submissions.lua http://127.0.0.1:8080/v1/submissions
local counter = 0
local next_thread_id = 0
local ids = {}
local tokens = {}
local citizens = 0
local threads = {}

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
  local path = os.getenv("BENCH_TOKENS_FILE")
  local file = path and io.open(path, "r")
  if not file then
    error("BENCH_TOKENS_FILE must name the citizens' token file (bench/citizen_tokens.py)")
  end
  for line in file:lines() do
    local id, token = line:match("^([^\t]+)\t(.+)$")
    if id then
      ids[citizens] = id
      tokens[citizens] = "Bearer " .. token
      citizens = citizens + 1
    end
  end
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = counter * 16 + tid
  local c = n % citizens
  local body = string.format(
    '{"kind":"payment","citizen_id":"%s","payload":{"scheme":"medical","amount_cents":%d,"period":"%s"}}',
    ids[c], 1 + (n % 9999999), period)
  wrk.headers["Authorization"] = tokens[c]
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
