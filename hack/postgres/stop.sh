#!/usr/bin/env bash
# Stops the PostgreSQL server that start.sh started in DIR, by the PID in
# DIR/data/postmaster.pid: `pg_ctl stop -m fast`, then SIGKILL after a
# bound. Idempotent: no PID file or a server already gone is fine. Leaves
# the data and logs in DIR.
#
# Usage: hack/postgres/stop.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0
log() { printf '[postgres/stop] %s\n' "$*" >&2; }
GRACE=${BSS_POSTGRES_STOP_TIMEOUT:-20} # seconds

# running PID: PID is a live (non-zombie) postgres process, so a PID the
# kernel reused for something else is never signalled.
running() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = postgres ] &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
[[ "$pid" =~ ^[0-9]+$ ]] && running "$pid" || exit 0

log "stopping postgres (pid $pid)"
bin=$(dirname "$(readlink -f "/proc/$pid/exe" 2>/dev/null || echo /nonexistent/postgres)")
if [ -x "$bin/pg_ctl" ]; then
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$DIR/data" -m fast -t "$GRACE" -s stop || true
  else
    "$bin/pg_ctl" -D "$DIR/data" -m fast -t "$GRACE" -s stop || true
  fi
else
  kill -INT "$pid" 2>/dev/null || true # fast shutdown
fi
for ((i = 0; i < GRACE * 10; i++)); do
  running "$pid" || break
  sleep 0.1
done
if running "$pid"; then
  log "postgres (pid $pid) still running after ${GRACE}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    running "$pid" || break
    sleep 0.1
  done
fi
if running "$pid"; then
  log "postgres (pid $pid) did not exit"
  exit 1
fi
