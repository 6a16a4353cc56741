#!/usr/bin/env bash
# A local Redis Cluster for the seat locks: 3 masters and 3 replicas on loopback ports
# (REDIS_CLUSTER_PORT .. +5, default 7000-7005), no persistence, like the single Redis.
# Idempotent: nodes that answer are reused, missing ones are started, and the cluster is
# created only when no node has slots yet. A node that was killed (the failover drill) is
# started again and rejoins from its nodes.conf, as the replica of the master that replaced it.
#
#   infrastructure/redis_cluster.sh [start|stop|nodes]
#
# `nodes` prints the value for REDIS_CLUSTER_NODES. cluster-node-timeout is short (2 s) so a
# dead master is replaced within a few seconds; full coverage is not required, so only the
# dead master's slots stop while the other slots keep serving.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${REDIS_CLUSTER_DIR:-$ROOT/var/redis-cluster}"
BASE="${REDIS_CLUSTER_PORT:-7000}"
NODE_TIMEOUT_MS="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

say() { printf '%-11s %s\n' "$1" "$2"; }
fail() { say redis-cluster "FAILED: $1"; exit 1; }
cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
up() { cli "$1" ping 2>/dev/null | grep -q PONG; }
nodes_setting() { local IFS=,; echo "${PORTS[*]/#/127.0.0.1:}"; }

start_node() {
  local port=$1 dir="$VAR/$1"
  mkdir -p "$dir"
  redis-server --daemonize yes --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$NODE_TIMEOUT_MS" --cluster-require-full-coverage no \
    --save "" --appendonly no --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" --maxclients 10000 >/dev/null
}

cluster_ok() { cli "$BASE" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start() {
  local started=0
  for port in "${PORTS[@]}"; do
    if ! up "$port"; then
      start_node "$port"
      started=$((started + 1))
    fi
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 50); do up "$port" && break; sleep 0.1; done
    up "$port" || fail "node $port did not start; see $VAR/$port/redis.log"
  done
  local assigned
  assigned="$(cli "$BASE" cluster info | awk -F: '/^cluster_slots_assigned/ {print $2}' | tr -d '\r')"
  if [ "$assigned" = "0" ]; then
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") \
      --cluster-replicas 1 --cluster-yes >"$VAR/create.log" 2>&1 \
      || fail "redis-cli --cluster create failed; see $VAR/create.log"
  fi
  for _ in $(seq 100); do cluster_ok && break; sleep 0.1; done
  cluster_ok || fail "cluster_state is not ok; see $VAR/*/redis.log"
  if [ "$started" = 0 ]; then
    say redis-cluster "already running on 127.0.0.1:${PORTS[0]}-${PORTS[5]}"
  else
    say redis-cluster "started $started node(s) on 127.0.0.1:${PORTS[0]}-${PORTS[5]}"
  fi
}

stop() {
  for port in "${PORTS[@]}"; do
    up "$port" && cli "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  say redis-cluster "stopped"
}

case "${1:-start}" in
  start) mkdir -p "$VAR"; start ;;
  stop) stop ;;
  nodes) nodes_setting ;;
  *) echo "usage: $0 [start|stop|nodes]" >&2; exit 2 ;;
esac
