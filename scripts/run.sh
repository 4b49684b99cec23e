#!/usr/bin/env bash
# Set up (see setup.sh), then run the whole system locally: core simulator, workers, front door and
# status API, each as its own process, logs interleaved on this terminal. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
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
}
trap stop INT TERM EXIT
$py -m bench.coresim & pids+=($!)
$py -m workers & pids+=($!)
$py -m frontdoor & pids+=($!)
$py -m status_api & pids+=($!)
echo "[run] front door http://127.0.0.1:${FRONTDOOR_PORT:-8080}  status http://127.0.0.1:${STATUS_PORT:-8081}  core simulator http://127.0.0.1:${CORE_PORT:-8090}" >&2
wait -n "${pids[@]}" || true
[ -n "$stopping" ] || echo "[run] a component exited; stopping the rest" >&2
