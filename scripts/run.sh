#!/usr/bin/env bash
# Set up (see setup.sh), then run the whole system locally: core simulator, workers, front door and
# status API, each as its own process, with the development identity provider (python -m bench.idp) that
# stands in for the portal's login; logs interleaved on this terminal and kept in .run/logs/.
# Ctrl-C stops them all, and the Redis and RabbitMQ that set-up started for this run.
#   bash scripts/run.sh                 on the RabbitMQ and Redis at AMQP_URL / REDIS_URL (started if local)
#   bash scripts/run.sh --keep-servers  the same, leaving the Redis and RabbitMQ it started running
#   bash scripts/run.sh --cluster       on the local cluster of scripts/cluster.sh (started if not
#                                       running), with two front doors and two worker processes; it
#                                       keeps running after Ctrl-C: bash scripts/cluster.sh down stops it
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[run] %s\n' "$*" >&2; }
cluster= keep_servers=
for arg in "$@"; do
  case "$arg" in
    --cluster) cluster=1 ;;
    --keep-servers) keep_servers=1 ;;
    *) say "unknown option $arg (--cluster, --keep-servers)"; exit 2 ;;
  esac
done

FRONTDOOR_PORT=${FRONTDOOR_PORT:-8080} STATUS_PORT=${STATUS_PORT:-8081}
CORE_PORT=${CORE_PORT:-8090} IDP_PORT=${IDP_PORT:-8092}
export FRONTDOOR_PORT STATUS_PORT CORE_PORT IDP_PORT
# Every port checked before anything starts: a taken one is named with the variable that moves it.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=
for var in FRONTDOOR_PORT STATUS_PORT CORE_PORT IDP_PORT; do
  if port_taken "${!var}"; then
    say "port ${!var} ($var) is taken: stop what listens there, or run with $var=<another port>"
    taken=1
  fi
done
if [ -n "$cluster" ] && port_taken $((FRONTDOOR_PORT + 4)); then
  say "port $((FRONTDOOR_PORT + 4)) (the second front door: FRONTDOOR_PORT + 4) is taken"
  taken=1
fi
[ -z "$taken" ] || exit 1

# The local servers of ours that run ("[servers] Redis runs ..." / "[servers] RabbitMQ ... runs"), before
# and after set-up: those it started for this run are stopped with it.
ours() { bash scripts/servers.sh status 2>&1 | grep -c -E '^\[servers\] (Redis|RabbitMQ|PostgreSQL) ' || true; }
servers_before=$(ours)
if [ -n "$cluster" ]; then
  bash scripts/cluster.sh up >&2
  set -a; . .run/cluster/env; set +a
else
  bash scripts/setup.sh
fi
servers_after=$(ours)

py=.venv/bin/python
logs=${TICKETGATE_RUN_DIR:-.run}/logs
mkdir -p "$logs"
declare -A names=()
pids=()
follower=
stopping=
start() { # name, command...: its output in .run/logs/<name>.log, followed on this terminal
  local name=$1; shift
  "$@" > "$logs/$name.log" 2>&1 &
  pids+=($!)
  names[$!]=$name
}
stop() {
  [ -z "$stopping" ] || return 0
  stopping=1
  say "stopping..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  sleep 0.2  # the follower shows the components' last lines
  if [ -n "$follower" ]; then kill "$follower" 2>/dev/null || true; wait "$follower" 2>/dev/null || true; fi
  say "stopped"
  if [ -z "$cluster" ] && [ "$servers_after" -gt "$servers_before" ]; then
    if [ -n "$keep_servers" ]; then
      say "the Redis and RabbitMQ that set-up started keep running: bash scripts/servers.sh stop stops them"
    else
      bash scripts/servers.sh stop
    fi
  fi
}
trap stop INT TERM EXIT
# The front door and status API verify citizens' tokens against this provider (SPEC "Additions").
export AUTH_ISSUER="${AUTH_ISSUER:-http://127.0.0.1:$IDP_PORT}"
# A development operator token, so that the dashboard opens; set OPERATOR_TOKEN for one of your own.
export OPERATOR_TOKEN="${OPERATOR_TOKEN:-dev-operator-token}"
start identity-provider $py -m bench.idp
start core-simulator $py -m bench.coresim
start workers $py -m workers
start front-door $py -m frontdoor
start status-api $py -m status_api
doors="http://127.0.0.1:$FRONTDOOR_PORT"
if [ -n "$cluster" ]; then
  # A second front door and a second worker process, as behind a load balancer.
  second=$((FRONTDOOR_PORT + 4))
  start front-door-2 env FRONTDOOR_PORT=$second $py -m frontdoor
  start workers-2 $py -m workers
  doors="$doors and http://127.0.0.1:$second"
  say "on the cluster: AMQP_URL=$AMQP_URL REDIS_URL=$REDIS_URL"
fi
# One follower prints every component's log as it grows (the logs stay in $logs/)
files=()
for name in "${names[@]}"; do files+=("$logs/$name.log"); done
tail -q -n +1 -F "${files[@]}" >&2 2>/dev/null &
follower=$!
cat >&2 <<EOF
[run] front door $doors  status API http://127.0.0.1:$STATUS_PORT  core simulator http://127.0.0.1:$CORE_PORT
[run] operator dashboard http://127.0.0.1:$FRONTDOOR_PORT/dashboard  (operator token: $OPERATOR_TOKEN)
[run] a ticket's page for citizens: http://127.0.0.1:$STATUS_PORT/t/<ticket_id>
[run] identity provider $AUTH_ISSUER: a submission carries a citizen's token, for example
  curl -s -X POST $AUTH_ISSUER/v1/tokens -H 'Content-Type: application/json' -d '{"sub": "110101198001010010"}'
  and then POST /v1/submissions with the header "Authorization: Bearer <its access_token>"
[run] logs in $logs/; Ctrl-C stops everything
EOF
exited=
code=0
wait -n -p exited "${pids[@]}" || code=$?
# A Ctrl-C reaches the components too, and one may exit before this shell runs its trap: let the trap
# run first, so that a Ctrl-C is not reported as a component's failure.
sleep 0.3
if [ -z "$stopping" ] && [ "$code" -eq 0 ]; then
  # A component exits 0 only when asked to stop: a Ctrl-C this shell did not see (bash can drop a SIGINT
  # that lands while it reaps a child: a CI run printed a component's clean exit as a failure), or a
  # kill of that one process. Either way the rest stop too, and it is no failure.
  say "${names[$exited]:-a component} stopped; stopping the others"
  exit 0
fi
if [ -z "$stopping" ]; then
  name=${names[$exited]:-a component}
  say "$name exited (status $code); its last lines:"
  tail -n 15 "$logs/$name.log" | sed 's/^/    /' >&2
  say "stopping the rest"
  exit 1
fi
