-- wrk script: one resident ID submitting distinct payments as fast as it can, to measure the cost of a
-- 429 (per-client limit) next to a 202. The citizen and its token: the first line of BENCH_TOKENS_FILE.
--   wrk -t2 -c100 -d15s --latency -s bench/wrk/one_citizen.lua http://127.0.0.1:8080/v1/submissions
local counter = 0
c202, c429, cother = 0, 0, 0
local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("tid", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

local citizen

function init(args)
  local file = assert(io.open(os.getenv("BENCH_TOKENS_FILE") or "", "r"), "BENCH_TOKENS_FILE must be set")
  local id, token = file:read("*l"):match("^([^\t]+)\t(.+)$")
  file:close()
  citizen = id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"kind":"payment","citizen_id":"%s","payload":{"scheme":"medical","amount_cents":%d,"period":"2026-10"}}',
    citizen, 1 + counter * 16 + tid)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then c202 = c202 + 1 elseif status == 429 then c429 = c429 + 1 else cother = cother + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c202"); b = b + t:get("c429"); c = c + t:get("cother")
  end
  io.write(string.format("202: %d, 429: %d, other: %d\n", a, b, c))
end
