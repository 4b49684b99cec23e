#!/usr/bin/env bash
# Set up (see setup.sh), then run the whole system locally: core simulator, workers, front door and
# status API, each as its own process, with the development identity provider (python -m bench.idp) that
# stands in for the portal's login; logs interleaved on this terminal. Ctrl-C stops them all.
#   bash scripts/run.sh            on the RabbitMQ and Redis at AMQP_URL / REDIS_URL (started if local)
#   bash scripts/run.sh --cluster  on the local cluster of scripts/cluster.sh (started if not running),
#                                  with two front doors and two worker processes; it keeps running after
#                                  Ctrl-C: bash scripts/cluster.sh down stops it
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=
if [ "${1:-}" = "--cluster" ]; then
  cluster=1
  bash scripts/cluster.sh up >&2
  set -a; . .run/cluster/env; set +a
else
  bash scripts/setup.sh
fi
py=.venv/bin/python
pids=()
stopping=
stop() {
  [ -z "$stopping" ] || return 0
  stopping=1
  echo "[run] stopping..." >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "[run] stopped" >&2
  if [ -z "$cluster" ] && [ -n "$(bash scripts/servers.sh status 2>&1 | grep -v 'no ' || true)" ]; then
    echo "[run] the Redis and RabbitMQ that set-up started keep running: bash scripts/servers.sh stop" >&2
  fi
}
trap stop INT TERM EXIT
# The front door and status API verify citizens' tokens against this provider (SPEC "Additions").
export AUTH_ISSUER="${AUTH_ISSUER:-http://127.0.0.1:${IDP_PORT:-8092}}"
$py -m bench.idp & pids+=($!)
$py -m bench.coresim & pids+=($!)
$py -m workers & pids+=($!)
$py -m frontdoor & pids+=($!)
$py -m status_api & pids+=($!)
doors="http://127.0.0.1:${FRONTDOOR_PORT:-8080}"
if [ -n "$cluster" ]; then
  # A second front door and a second worker process, as behind a load balancer.
  second=$(( ${FRONTDOOR_PORT:-8080} + 4 ))
  FRONTDOOR_PORT=$second $py -m frontdoor & pids+=($!)
  $py -m workers & pids+=($!)
  doors="$doors and http://127.0.0.1:$second"
  echo "[run] on the cluster: AMQP_URL=$AMQP_URL REDIS_URL=$REDIS_URL" >&2
fi
echo "[run] front door $doors  status http://127.0.0.1:${STATUS_PORT:-8081}  core simulator http://127.0.0.1:${CORE_PORT:-8090}" >&2
cat >&2 <<EOF
[run] identity provider $AUTH_ISSUER: a submission carries a citizen's token, for example
  curl -s -X POST $AUTH_ISSUER/v1/tokens -H 'Content-Type: application/json' -d '{"sub": "110101198001010010"}'
  and then POST /v1/submissions with the header "Authorization: Bearer <its access_token>"
EOF
wait -n "${pids[@]}" || true
[ -n "$stopping" ] || echo "[run] a component exited; stopping the rest" >&2
