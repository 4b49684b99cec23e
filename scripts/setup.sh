#!/usr/bin/env bash
# One set-up for every entry point: a virtualenv with the project installed, and RabbitMQ, Redis and
# PostgreSQL (the archive) answering at AMQP_URL / REDIS_URL / DATABASE_URL. Servers that already answer are used as they are; local ones that
# do not are started (installed from the OS packages first when missing). Idempotent: safe to rerun.
# With --cluster: the virtualenv and the server packages only (scripts/cluster.sh starts the servers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN_DIR=${TICKETGATE_RUN_DIR:-$ROOT/.run}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
# Empty (DATABASE_URL=) means no archive; unset means the default.
DATABASE_URL=${DATABASE_URL-postgresql://postgres@127.0.0.1:5432/ticketgate}
mkdir -p "$RUN_DIR"

say() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Python environment -------------------------------------------------------------------------
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { say "Python 3.11+ is required"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv || { as_root apt-get install -y python3-venv && "$PYTHON" -m venv .venv; }
fi
stamp=.venv/.ticketgate-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing the project and its dev extras"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,bench]'
  echo "$want" > "$stamp"
fi

# --- Services -----------------------------------------------------------------------------------
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -q >/dev/null; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
# host and port of a URL, e.g. "127.0.0.1 6379"
endpoint() { .venv/bin/python -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or int(sys.argv[2]))' "$1" "$2"; }
answers() { .venv/bin/python -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' "$1" "$2" 2>/dev/null; }
is_local() { case "$1" in 127.*|localhost|::1) return 0;; *) return 1;; esac; }
wait_for() { for _ in $(seq 1 120); do answers "$1" "$2" && return 0; sleep 0.5; done; return 1; }

if [ "${1:-}" = "--cluster" ]; then
  # scripts/cluster.sh starts its own servers: here only the packages they run from.
  command -v redis-server >/dev/null || { say "installing redis-server"; apt_install redis-server; }
  ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin >/dev/null 2>&1 ||
    { say "installing rabbitmq-server"; apt_install rabbitmq-server; }
  exit 0
fi

read -r redis_host redis_port < <(endpoint "$REDIS_URL" 6379)
if answers "$redis_host" "$redis_port"; then
  say "Redis answers at $redis_host:$redis_port"
elif is_local "$redis_host"; then
  command -v redis-server >/dev/null || { say "installing redis-server"; apt_install redis-server; }
  mkdir -p "$RUN_DIR/redis"
  say "starting Redis on $redis_port (append-only persistence in $RUN_DIR/redis)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --appendonly yes \
    --appendfsync everysec --dir "$RUN_DIR/redis" --logfile "$RUN_DIR/redis/redis.log" \
    --pidfile "$RUN_DIR/redis/redis.pid"
  wait_for "$redis_host" "$redis_port" || { say "Redis did not start"; exit 1; }
else
  say "Redis at $redis_host:$redis_port does not answer"; exit 1
fi

read -r amqp_host amqp_port < <(endpoint "$AMQP_URL" 5672)
if answers "$amqp_host" "$amqp_port"; then
  say "RabbitMQ answers at $amqp_host:$amqp_port"
elif is_local "$amqp_host"; then
  sbin() { ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin 2>/dev/null | sort -V | tail -n 1; }
  [ -n "$(sbin)" ] || { say "installing rabbitmq-server"; apt_install rabbitmq-server; }
  # The package's own scripts, not Debian's wrapper: the wrapper switches to the rabbitmq user,
  # which cannot write our node's private directories.
  node_dir="$RUN_DIR/rabbitmq"
  mkdir -p "$node_dir/home" "$node_dir/log"
  echo "[]." > "$node_dir/enabled_plugins"
  # Loopback only, like the Redis above: a development broker with the guest user is nobody's business
  # but this machine's (AMQP, and Erlang distribution and its port mapper).
  printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$amqp_port" > "$node_dir/rabbitmq.conf"
  echo "ticketgate-$amqp_port@localhost" > "$node_dir/nodename"
  say "starting RabbitMQ on $amqp_port (node data in $node_dir)"
  server="$(sbin)/rabbitmq-server"
  (
    cd "$node_dir"  # where the Erlang VM would write a crash dump
    export HOME="$node_dir/home" RABBITMQ_NODENAME="ticketgate-$amqp_port@localhost"
    dist_port=$((amqp_port + 20000)); [ "$dist_port" -le 65535 ] || dist_port=$((amqp_port - 20000))
    export RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port"
    export RABBITMQ_MNESIA_BASE="$node_dir/mnesia" RABBITMQ_LOG_BASE="$node_dir/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$node_dir/enabled_plugins"
    export RABBITMQ_CONFIG_FILE="$node_dir/rabbitmq"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    setsid "$server" > log/console.log 2>&1 < /dev/null &
  )
  wait_for "$amqp_host" "$amqp_port" || { say "RabbitMQ did not start; see $node_dir/log"; exit 1; }
else
  say "RabbitMQ at $amqp_host:$amqp_port does not answer"; exit 1
fi

if [ -n "$DATABASE_URL" ]; then
  read -r pg_host pg_port < <(endpoint "$DATABASE_URL" 5432)
  pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
  if answers "$pg_host" "$pg_port"; then
    say "PostgreSQL answers at $pg_host:$pg_port"
  elif is_local "$pg_host"; then
    [ -n "$(pg_bin)" ] || { say "installing postgresql"; apt_install postgresql; }
    # initdb and postgres refuse to run as root: as the postgres user the package created.
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    data="$RUN_DIR/postgres"
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$RUN_DIR"; then
      # The postgres user cannot reach the run directory (a private /tmp, a home of 700): its own.
      data="/var/lib/postgresql/ticketgate-$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-12)"
    fi
    echo "$data" > "$RUN_DIR/postgres.data"  # where scripts/servers.sh finds it
    if [ ! -f "$data/PG_VERSION" ]; then
      mkdir -p "$data"; [ "$(id -u)" != 0 ] || chown postgres "$data"; chmod 700 "$data"
      # Trust on the loopback only, like the Redis and RabbitMQ above: a development database.
      as_pg "$(pg_bin)/initdb" -D "$data" -U postgres -A trust >/dev/null
    fi
    say "starting PostgreSQL on $pg_port (data in $data)"
    as_pg "$(pg_bin)/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $data" start >/dev/null ||
      { say "PostgreSQL did not start; see $data/server.log"; exit 1; }
  else
    say "PostgreSQL at $pg_host:$pg_port does not answer"; exit 1
  fi
  .venv/bin/python -m queue_config.stores.postgres.ensure "$DATABASE_URL"
fi

# --- Headless browser for the page tests --------------------------------------------------------
# The dashboard and the citizen page are tested (and screenshotted) in Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${TICKETGATE_NO_BROWSER:-}" ]; then
  say "installing chromium (page tests)"
  apt_install chromium fonts-noto-cjk
fi
# axe-core checks the pages' accessibility inside that browser (bench/browser.py), from the npm registry
# into .run/axe: a pinned release, no build step, nothing global.
AXE_VERSION=4.10.3
if [ -z "${TICKETGATE_NO_BROWSER:-}" ] && [ ! -f "$RUN_DIR/axe/node_modules/axe-core/axe.min.js" ]; then
  command -v npm >/dev/null 2>&1 || { say "installing npm (axe-core)"; apt_install npm; }
  say "installing axe-core $AXE_VERSION (page accessibility tests)"
  mkdir -p "$RUN_DIR/axe"
  npm install --silent --no-audit --no-fund --prefix "$RUN_DIR/axe" "axe-core@$AXE_VERSION" >/dev/null
fi

# --- Load generator for the raw-throughput figures ----------------------------------------------
# python -m bench measures intake throughput with wrk: a C generator takes a few percent of a core where
# locust takes half the machine, so the ceilings it reports are the servers', not the generator's.
if ! command -v wrk >/dev/null 2>&1 && [ -z "${TICKETGATE_NO_WRK:-}" ]; then
  say "installing wrk (benchmark)"
  apt_install wrk || say "wrk could not be installed: python -m bench falls back to locust"
fi
