#!/usr/bin/env bash
# Runs a local Keycloak (development mode, port 8180) with the realm in realm-ticketing.json.
#
#   keycloak/keycloak.sh start    fetch the pinned distribution if needed, start, wait for the realm
#   keycloak/keycloak.sh stop     stop the Keycloak this script started (by its PID)
#   keycloak/keycloak.sh status   say whether the realm answers
#   keycloak/keycloak.sh smtp     point the running realm's mail at the SMTP sink (start does it too)
#
# The distribution comes from Maven Central (org.keycloak:keycloak-quarkus-dist:VERSION:tar.gz via
# `mvn dependency:copy`) into $ROOT/.cache/keycloak and is not downloaded again. Keycloak 26 needs
# Java 21 or newer: $JAVA_HOME if it is new enough, else the newest JDK in /usr/lib/jvm.
# The realm is imported at the first start of a data dir; when realm-ticketing.json changes, the
# development database (H2, in the distribution's data/h2) is wiped so the edited realm is imported.
# KEYCLOAK_FRESH=1 wipes it on every start.
# Keycloak sends its own mail (password reset, verify email) through the SMTP server in
# KEYCLOAK_SMTP_HOST:KEYCLOAK_SMTP_PORT (default: the development sink, 127.0.0.1:1025). The realm
# export carries these settings for a new realm; `start` also writes them into an existing one
# through the admin REST API, so a realm imported before they existed sends mail too.
#
# Development only: the master admin is admin/admin (KEYCLOAK_ADMIN_USER/KEYCLOAK_ADMIN_PASSWORD)
# and the demo users' passwords are public.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/keycloak"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
KC_PORT="${KEYCLOAK_PORT:-8180}"
KC_REALM="ticketing"
REALM_FILE="$HERE/realm-ticketing.json"
CACHE="$ROOT/.cache/keycloak"
DIST="$CACHE/keycloak-$KEYCLOAK_VERSION"
VAR="$ROOT/var"
LOG="$VAR/log/keycloak.log"
PIDFILE="$VAR/run/keycloak.pid"
BASE_URL="http://localhost:$KC_PORT"
WELL_KNOWN="$BASE_URL/realms/$KC_REALM/.well-known/openid-configuration"
START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-240}"
SMTP_HOST="${KEYCLOAK_SMTP_HOST:-127.0.0.1}"
SMTP_PORT="${KEYCLOAK_SMTP_PORT:-1025}"
SMTP_FROM="${KEYCLOAK_SMTP_FROM:-tickets@localhost}"

say() { printf '%-11s %s\n' "$1" "$2"; }
fail() { say keycloak "FAILED: $1"; exit 1; }

answers() { curl -fsS -o /dev/null --max-time 3 "$WELL_KNOWN" 2>/dev/null; }

own_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

java_major() {
  # Prints the major version of the java binary $1 (17, 21, 25, ...), nothing if unusable.
  "$1" -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1
}

find_java_home() {
  local best="" best_major=0 major candidate
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    major="$(java_major "$JAVA_HOME/bin/java")"
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then echo "$JAVA_HOME"; return 0; fi
  fi
  for candidate in /usr/lib/jvm/*/; do
    candidate="${candidate%/}"
    [ -x "$candidate/bin/java" ] || continue
    [ -L "$candidate" ] && continue
    major="$(java_major "$candidate/bin/java")"
    if [ -n "$major" ] && [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then
      best="$candidate" best_major="$major"
    fi
  done
  [ -n "$best" ] || return 1
  echo "$best"
}

fetch() {
  [ -x "$DIST/bin/kc.sh" ] && return 0
  mkdir -p "$CACHE" "$VAR/log"
  local tarball="$CACHE/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  if [ ! -s "$tarball" ]; then
    say keycloak "fetching keycloak-quarkus-dist $KEYCLOAK_VERSION from Maven Central"
    command -v mvn >/dev/null || fail "mvn is not installed (needed to fetch the distribution)"
    mvn -q -B dependency:copy \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$CACHE" >"$VAR/log/keycloak-fetch.log" 2>&1 \
      || fail "could not fetch the distribution; see $VAR/log/keycloak-fetch.log"
  fi
  tar -xzf "$tarball" -C "$CACHE" || fail "could not unpack $tarball"
  [ -x "$DIST/bin/kc.sh" ] || fail "$tarball did not unpack to $DIST"
}

prepare_realm() {
  local sum stamp="$DIST/data/.realm-ticketing.sha256"
  sum="$(sha256sum "$REALM_FILE" | cut -d' ' -f1)"
  if [ "${KEYCLOAK_FRESH:-0}" = "1" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    # The realm is imported only into an empty database: start from a clean one.
    rm -rf "$DIST/data/h2"
  fi
  mkdir -p "$DIST/data/import"
  cp "$REALM_FILE" "$DIST/data/import/realm-ticketing.json"
  echo "$sum" >"$stamp"
}

configure_smtp() {
  # PUT of a partial realm: Keycloak changes only the fields given (here smtpServer).
  local token body
  token="$(curl -fsS --max-time 10 "$BASE_URL/realms/master/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=admin-cli \
    --data-urlencode "username=${KEYCLOAK_ADMIN_USER:-admin}" \
    --data-urlencode "password=${KEYCLOAK_ADMIN_PASSWORD:-admin}" | jq -r .access_token)" \
    || fail "no master admin token; cannot set the realm's SMTP settings"
  body="$(jq -n --arg host "$SMTP_HOST" --arg port "$SMTP_PORT" --arg from "$SMTP_FROM" \
    '{smtpServer: {host: $host, port: $port, from: $from, fromDisplayName: "Ticketing",
      auth: "false", ssl: "false", starttls: "false"}}')"
  curl -fsS --max-time 10 -X PUT "$BASE_URL/admin/realms/$KC_REALM" \
    -H "Authorization: Bearer $token" -H "Content-Type: application/json" -d "$body" \
    || fail "could not set the realm's SMTP settings"
  say keycloak "realm $KC_REALM sends mail through $SMTP_HOST:$SMTP_PORT"
}

start() {
  mkdir -p "$VAR/log" "$VAR/run"
  if answers; then
    say keycloak "already running on $BASE_URL (realm $KC_REALM)"
    configure_smtp
    return 0
  fi
  local pid
  if pid="$(own_pid)"; then
    say keycloak "starting (pid $pid), waiting for the realm"
  else
    fetch
    local java_home
    java_home="$(find_java_home)" || fail "no JDK 21 or newer in \$JAVA_HOME or /usr/lib/jvm (Keycloak 26 needs one)"
    if (exec 3<>"/dev/tcp/127.0.0.1/$KC_PORT") 2>/dev/null; then
      fail "port $KC_PORT is taken by something that does not serve realm $KC_REALM"
    fi
    prepare_realm
    echo "keycloak.sh: Keycloak $KEYCLOAK_VERSION on the JDK in $java_home" >"$LOG"
    # setsid: Keycloak gets its own process group, so `stop` ends kc.sh and its JVM together.
    JAVA_HOME="$java_home" PATH="$java_home/bin:$PATH" \
      KC_BOOTSTRAP_ADMIN_USERNAME="${KEYCLOAK_ADMIN_USER:-admin}" \
      KC_BOOTSTRAP_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-admin}" \
      JAVA_OPTS_KC_HEAP="${JAVA_OPTS_KC_HEAP:--Xms64m -Xmx1024m}" \
      setsid "$DIST/bin/kc.sh" start-dev --http-port "$KC_PORT" --import-realm \
      </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi
  for _ in $(seq "$START_TIMEOUT"); do
    if answers; then
      say keycloak "started on $BASE_URL (realm $KC_REALM)"
      configure_smtp
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; fail "exited during start-up; see $LOG"; }
    sleep 1
  done
  fail "realm $KC_REALM did not answer on $BASE_URL within ${START_TIMEOUT}s; see $LOG"
}

stop() {
  local pid
  if ! pid="$(own_pid)"; then
    rm -f "$PIDFILE"
    if answers; then
      say keycloak "not started by this script (no live pid in $PIDFILE); left running"
    else
      say keycloak "not running"
    fi
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say keycloak "stopped (pid $pid)"
}

status() {
  if answers; then
    say keycloak "running on $BASE_URL (realm $KC_REALM)"
  elif pid="$(own_pid)"; then
    say keycloak "starting (pid $pid), realm not answering yet; see $LOG"
  else
    say keycloak "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  smtp) configure_smtp ;;
  *) echo "usage: $0 start|stop|status|smtp" >&2; exit 2 ;;
esac
