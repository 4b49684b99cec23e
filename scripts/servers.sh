#!/usr/bin/env bash
# The Redis, RabbitMQ and PostgreSQL that scripts/setup.sh started on this machine because none
# answered (data under .run/), not the ones it found running: they keep running after scripts/run.sh stops, for the next run.
#   bash scripts/servers.sh status    which of them run
#   bash scripts/servers.sh stop      stop them (their data stays under .run/ for the next start)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${TICKETGATE_RUN_DIR:-$PWD/.run}
say() { printf '[servers] %s\n' "$*" >&2; }
sbin() { ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin 2>/dev/null | sort -V | tail -n 1; }

redis_pid() {
  local pidfile="$RUN_DIR/redis/redis.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}
rabbit_node() { [ -f "$RUN_DIR/rabbitmq/nodename" ] && cat "$RUN_DIR/rabbitmq/nodename"; }
rabbitmqctl() { HOME="$RUN_DIR/rabbitmq/home" "$(sbin)/rabbitmqctl" -n "$(rabbit_node)" "$@"; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_data() { [ -f "$RUN_DIR/postgres.data" ] && cat "$RUN_DIR/postgres.data"; }
pg_running() { [ -n "$(pg_data || true)" ] && [ -f "$(pg_data)/postmaster.pid" ] && [ -n "$(pg_bin)" ] &&
  as_pg "$(pg_bin)/pg_ctl" -D "$(pg_data)" status >/dev/null 2>&1; }
rabbit_running() { [ -n "$(rabbit_node || true)" ] && rabbitmqctl -q status >/dev/null 2>&1; }

case "${1:-status}" in
  status)
    if pid=$(redis_pid); then say "Redis runs (pid $pid)"; else say "no Redis of ours runs"; fi
    if rabbit_running; then say "RabbitMQ $(rabbit_node) runs"; else say "no RabbitMQ of ours runs"; fi
    if pg_running; then say "PostgreSQL runs (data in $(pg_data))"; else say "no PostgreSQL of ours runs"; fi
    ;;
  stop)
    if pid=$(redis_pid); then
      say "stopping Redis (pid $pid)"
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if rabbit_running; then
      say "stopping RabbitMQ $(rabbit_node)"
      rabbitmqctl -q stop >/dev/null
    fi
    if pg_running; then
      say "stopping PostgreSQL"
      as_pg "$(pg_bin)/pg_ctl" -D "$(pg_data)" -m fast -w stop >/dev/null
    fi
    say "stopped"
    ;;
  *) say "usage: bash scripts/servers.sh status|stop"; exit 2 ;;
esac
