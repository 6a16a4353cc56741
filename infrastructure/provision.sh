#!/usr/bin/env bash
# Installs (if missing) and starts the services the platform needs on a Debian/Ubuntu machine
# without Docker or systemd: PostgreSQL, Redis, RabbitMQ and the local SMTP sink (and installs
# Debian's Prometheus, which `make prometheus` and the tests start when they need it).
# Idempotent: running services are detected and reused; nothing is installed twice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
LOG="$VAR/log"
MAIL_SINK_DIR="${MAIL_SINK_DIR:-$HOME/.local/share/ticketing/mail}"
mkdir -p "$LOG" "$VAR/run" "$MAIL_SINK_DIR" "$VAR/redis"

DB_USER="${TICKETING_DB_USER:-ticketing}"
DB_PASSWORD="${TICKETING_DB_PASSWORD:-ticketing}"
DB_NAME="${TICKETING_DB_NAME:-ticketing}"
MQ_USER="${TICKETING_MQ_USER:-ticketing}"
MQ_PASSWORD="${TICKETING_MQ_PASSWORD:-ticketing}"
MQ_VHOSTS=(ticketing ticketing_test)
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

say() { printf '%-11s %s\n' "$1" "$2"; }
fail() { say "$1" "FAILED: $2"; exit 1; }

# wait_for NAME LOGFILE SECONDS COMMAND...: retry COMMAND until it succeeds or time runs out.
wait_for() {
  local name=$1 logfile=$2 seconds=$3; shift 3
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  fail "$name" "did not come up within ${seconds}s; see $logfile"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- packages ----------------------------------------------------------------------------
PACKAGES=(
  postgresql redis-server rabbitmq-server
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation2
  libzbar0 zbar-tools poppler-utils chromium nginx wrk jq curl
  prometheus  # scrapes `make run` (make prometheus) and the metrics test; never started as a service
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say packages "installing ${missing[*]} (log: $LOG/apt.log)"
  # Debian's maintainer scripts try to start services; we start them ourselves below.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; } >"$LOG/apt.log" 2>&1 \
    || { $SUDO rm -f /usr/sbin/policy-rc.d; fail packages "apt-get install failed; see $LOG/apt.log"; }
  $SUDO rm -f /usr/sbin/policy-rc.d
else
  say packages "all present"
fi

# --- PostgreSQL --------------------------------------------------------------------------
PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
PG_LOG="/var/log/postgresql/postgresql-$PG_VERSION-main.log"
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$PG_VERSION main$"; then
  $SUDO pg_createcluster "$PG_VERSION" main >"$LOG/pg_createcluster.log" 2>&1 \
    || fail postgresql "could not create the cluster; see $LOG/pg_createcluster.log"
fi
if pg_isready -q -h 127.0.0.1 -p 5432; then
  say postgresql "already running on 127.0.0.1:5432"
else
  $SUDO pg_ctlcluster "$PG_VERSION" main start >"$LOG/postgresql-start.log" 2>&1 || true
  wait_for postgresql "$PG_LOG" 30 pg_isready -q -h 127.0.0.1 -p 5432
  say postgresql "started on 127.0.0.1:5432"
fi
psql_admin() { $SUDO -u postgres psql -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(id -u)" -eq 0 ]; then psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA $(printf '%q ' "$@")"; }; fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi

# --- Redis -------------------------------------------------------------------------------
if redis-cli -p 6379 ping 2>/dev/null | grep -q PONG; then
  say redis "already running on 127.0.0.1:6379"
else
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --dir "$VAR/redis" \
    --logfile "$LOG/redis.log" --pidfile "$VAR/run/redis.pid" --save "" --appendonly no \
    --databases 32 --maxclients 10000 >/dev/null
  wait_for redis "$LOG/redis.log" 20 sh -c 'redis-cli -p 6379 ping | grep -q PONG'
  say redis "started on 127.0.0.1:6379"
fi

# --- RabbitMQ ----------------------------------------------------------------------------
MQ_LOG="/var/log/rabbitmq"
if port_open 5672 && timeout 30 $SUDO rabbitmqctl -q status >/dev/null 2>&1; then
  say rabbitmq "already running on 127.0.0.1:5672"
else
  $SUDO mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
  $SUDO chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq 2>/dev/null || true
  # Every quorum queue keeps files open (Celery's native delayed delivery alone declares 28 per
  # vhost), and the default 1,024 descriptors run out with a few vhosts: the broker then stops
  # answering. rabbitmq-server's own wrapper switches user through su, whose PAM session resets
  # the limit, so the broker is started as its user without PAM, with the hard limit.
  $SUDO sh -c 'cd /var/lib/rabbitmq && ulimit -n "$(ulimit -Hn)" && HOME=/var/lib/rabbitmq \
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
    /usr/lib/rabbitmq/bin/rabbitmq-server -detached' >"$LOG/rabbitmq-start.log" 2>&1 || true
  wait_for rabbitmq "$MQ_LOG (and $LOG/rabbitmq-start.log)" 90 $SUDO rabbitmqctl -q await_startup --timeout 5
  wait_for rabbitmq "$MQ_LOG" 30 port_open 5672
  say rabbitmq "started on 127.0.0.1:5672"
fi
if ! $SUDO rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$MQ_USER"; then
  $SUDO rabbitmqctl -q add_user "$MQ_USER" "$MQ_PASSWORD" >/dev/null
  $SUDO rabbitmqctl -q set_user_tags "$MQ_USER" management >/dev/null
fi
for vhost in "${MQ_VHOSTS[@]}"; do
  if ! $SUDO rabbitmqctl -q list_vhosts | grep -qx "$vhost"; then
    $SUDO rabbitmqctl -q add_vhost "$vhost" >/dev/null
  fi
  $SUDO rabbitmqctl -q set_permissions -p "$vhost" "$MQ_USER" ".*" ".*" ".*" >/dev/null
done

# --- SMTP sink ---------------------------------------------------------------------------
if port_open 1025; then
  say smtp-sink "already running on 127.0.0.1:1025 (mail in $MAIL_SINK_DIR)"
else
  nohup "$PYTHON" -m infrastructure.smtp_sink --port 1025 --maildir "$MAIL_SINK_DIR" \
    >"$LOG/smtp-sink.log" 2>&1 &
  echo $! >"$VAR/run/smtp-sink.pid"
  wait_for smtp-sink "$LOG/smtp-sink.log" 20 port_open 1025
  say smtp-sink "started on 127.0.0.1:1025 (mail in $MAIL_SINK_DIR)"
fi
