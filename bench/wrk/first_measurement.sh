#!/usr/bin/env bash
# First accept-path measurement: accepted submissions/s and latency percentiles at 100 and 1,000
# connections, for the front door (no workers: the intake path alone, into RabbitMQ and Redis) and for a
# bare aiohttp handler that answers 202 with no I/O, with the same tool on the same machine, one after
# the other. Usage: bash bench/wrk/first_measurement.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
secs=${1:-20}
ns="bench-$(date +%s)"
py=.venv/bin/python
# All load comes from one address here, so the per-IP limit is off; per-citizen limits stay on.
export NAMESPACE=$ns LOG_LEVEL=warning PER_IP_PER_MINUTE=0 FRONTDOOR_PORT=${FRONTDOOR_PORT:-18080} BARE_PORT=${BARE_PORT:-18099}
# The portal's login, and the pool of citizens' tokens the wrk scripts read (bench/citizen_tokens.py).
export IDP_PORT=${IDP_PORT:-18092}
export AUTH_ISSUER=http://127.0.0.1:$IDP_PORT BENCH_TOKENS_FILE=.run/bench/tokens-$ns.tsv
$py -m bench.idp & idp=$!
$py -m frontdoor & fd=$!
$py -m bench.bare_aiohttp & bare=$!
trap 'kill $idp $fd $bare 2>/dev/null; wait 2>/dev/null; rm -f "$BENCH_TOKENS_FILE"; $py -m bench.purge "$ns"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$FRONTDOOR_PORT/readyz" >/dev/null && break; sleep 0.2; done
$py -m bench.citizen_tokens "$BENCH_TOKENS_FILE"
run() { # name url connections [script]
  echo "== $1, $3 connections, ${secs}s"
  wrk -t2 -c"$3" -d"${secs}s" --timeout 10s --latency -s "bench/wrk/${4:-submissions.lua}" "$2" |
    grep -E "Requests/sec|Latency |  50%|  90%|  99%|non-2xx|Socket errors|^202:"
}
for c in 100 1000; do
  run "bare aiohttp 202" "http://127.0.0.1:$BARE_PORT/v1/submissions" "$c"
  run "ticketgate front door" "http://127.0.0.1:$FRONTDOOR_PORT/v1/submissions" "$c"
done
# The cost of a 429: one resident ID far over its limit (after its first 500), same door, same run
run "ticketgate front door, one citizen over its limit" \
  "http://127.0.0.1:$FRONTDOOR_PORT/v1/submissions" 100 one_citizen.lua
echo "== messages queued in $ns.payment: $(.venv/bin/python - <<PY
import asyncio, aio_pika
async def main():
    c = await aio_pika.connect("${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}")
    async with c:
        q = await (await c.channel()).declare_queue("$ns.payment", passive=True)
        print(q.declaration_result.message_count)
asyncio.run(main())
PY
)"
