#!/usr/bin/env bash
# The cost of a shed answer next to an accepted one: the same front door, the same wrk load (distinct
# valid payments, 100 connections), first admitting everything, then with the operator's admission rate
# for payments set to 1 a second so nearly every answer is a 503. One invocation, runs back to back.
# Usage: bash bench/wrk/shed_cost.sh [seconds per run, default 15]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
secs=${1:-15}
ns="bench-$(date +%s)"
py=.venv/bin/python
export NAMESPACE=$ns LOG_LEVEL=warning PER_IP_PER_MINUTE=0 FRONTDOOR_PORT=${FRONTDOOR_PORT:-18080}
# The portal's login, and the pool of citizens' tokens the wrk scripts read (bench/citizen_tokens.py).
export IDP_PORT=${IDP_PORT:-18092}
export AUTH_ISSUER=http://127.0.0.1:$IDP_PORT BENCH_TOKENS_FILE=.run/bench/tokens-$ns.tsv
$py -m bench.idp & idp=$!
$py -m frontdoor & fd=$!
trap 'kill $idp $fd 2>/dev/null; wait 2>/dev/null; rm -f "$BENCH_TOKENS_FILE"; $py -m bench.purge "$ns"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$FRONTDOOR_PORT/readyz" >/dev/null && break; sleep 0.2; done
$py -m bench.citizen_tokens "$BENCH_TOKENS_FILE"
run() { # name
  echo "== $1, 100 connections, ${secs}s"
  wrk -t2 -c100 -d"${secs}s" --timeout 10s --latency -s bench/wrk/submissions.lua \
    "http://127.0.0.1:$FRONTDOOR_PORT/v1/submissions" |
    grep -E "Requests/sec|  50%|  90%|  99%|Socket errors|^[0-9]{3}:"
}
# No workers run, so the controller would rightly start shedding once the backlog nears its target:
# the first run fixes the admission rate far above the load instead.
$py -m bench.set_throttle '{"mode": "manual", "rates": {"payment": 1000000}}' >/dev/null
sleep 2
run "accepting (every answer 202)"
$py -m bench.set_throttle '{"mode": "manual", "rates": {"payment": 1}}' >/dev/null
sleep 2  # the controller and every door pick the document up within a second
run "shedding (admission rate 1/s: 503 with Retry-After)"
