-- wrk script: status reads of the ticket IDs in the file named by BENCH_TICKETS_FILE (one a line), in
-- turn, each thread from its own place; counts the answers that were not 200.
--   BENCH_TICKETS_FILE=ids.txt wrk -t2 -c64 -d10s --latency -s bench/wrk/ticket_reads.lua http://127.0.0.1:8081
local ids = {}
local counter = 0
local threads = {}
not_ok = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("BENCH_TICKETS_FILE") or "", "r"), "BENCH_TICKETS_FILE must be set")
  for line in file:lines() do table.insert(ids, line) end
  file:close()
  counter = math.random(#ids)
end

function request()
  counter = counter % #ids + 1
  return wrk.format("GET", "/v1/tickets/" .. ids[counter])
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("not_ok") end
  io.write(string.format("not_ok %d\n", total))
end
