#!/usr/bin/env bash
# Start (or reuse) a throwaway local PostgreSQL server for the test suite.
#   scripts/test-postgres.sh start   prints the DSN on stdout
#   scripts/test-postgres.sh stop
# Listens on 127.0.0.1 only, trust auth, data under /tmp. Needs the server
# binaries (initdb, pg_ctl); as root it runs the server as user "postgres".
set -euo pipefail
PORT=${CALENDLY_ELT_PG_PORT:-54329}
DATA=${CALENDLY_ELT_PG_DATA:-/tmp/calendly-elt-pg-$PORT}
DB=calendly_test

find_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local hit
  hit=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$hit" ] && echo "$hit" && return
  return 1
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local initdb pg_ctl
  initdb=$(find_bin initdb) || { echo "initdb not found" >&2; exit 1; }
  pg_ctl=$(find_bin pg_ctl) || { echo "pg_ctl not found" >&2; exit 1; }
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = "0" ] && chown postgres "$DATA"
    as_owner "$initdb" -D "$DATA" -U postgres --auth=trust >/dev/null
  fi
  if ! as_owner "$pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_owner "$pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c fsync=off" start >/dev/null
  fi
  local psql
  psql=$(find_bin psql) || { echo "psql not found" >&2; exit 1; }
  if ! "$psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "select 1 from pg_database where datname='$DB'" | grep -q 1; then
    "$psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "create database $DB" >/dev/null
  fi
  echo "postgresql://postgres@127.0.0.1:$PORT/$DB"
}

stop() {
  local pg_ctl
  pg_ctl=$(find_bin pg_ctl) || exit 0
  as_owner "$pg_ctl" -D "$DATA" stop -m fast >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
