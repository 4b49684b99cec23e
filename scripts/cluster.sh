#!/usr/bin/env bash
# A 3-node RabbitMQ cluster and a Redis Cluster (3 primaries, 1 replica each) on this machine, data under
# .run/cluster (see bench/local_cluster.py). Installs the server packages when missing, like setup.sh.
#   bash scripts/cluster.sh up       start it (idempotent) and print AMQP_URL / REDIS_URL
#   bash scripts/cluster.sh status   which nodes run, and their roles
#   bash scripts/cluster.sh down     stop everything it started and remove .run/cluster
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  up|down|status|env) ;;
  *) echo "usage: bash scripts/cluster.sh up|down|status|env" >&2; exit 2 ;;
esac
if [ "$1" = up ] || [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh --cluster
fi
exec .venv/bin/python -m bench.local_cluster "$1"
