#!/usr/bin/env bash
# Stops the etcd and kube-apiserver that start.sh started in DIR, by the PIDs
# in DIR/*.pid: SIGTERM, then SIGKILL after a bound. Idempotent: a missing PID
# file or a process that is already gone is fine. Leaves logs and data in DIR.
#
# Usage: hack/controlplane/stop.sh DIR
# BSS_CONTROLPLANE_ONLY=kube-apiserver stops only the apiserver.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0
log() { printf '[controlplane/stop] %s\n' "$*" >&2; }

# running PID NAME: PID is a live (non-zombie) process named NAME, so a PID
# that the kernel reused for something else is never signalled.
running() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# stop NAME GRACE_SECONDS
stop() {
  local name=$1 grace=$2 pidfile="$DIR/$1.pid" pid i
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  if [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid" "$name"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      running "$pid" "$name" || break
      sleep 0.1
    done
    if running "$pid" "$name"; then
      log "$name (pid $pid) still running after ${grace}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        running "$pid" "$name" || break
        sleep 0.1
      done
    fi
    if running "$pid" "$name"; then
      log "$name (pid $pid) did not exit"
      return 1
    fi
  fi
  rm -f "$pidfile"
}

stop kube-apiserver 15
[ "${BSS_CONTROLPLANE_ONLY:-}" = kube-apiserver ] || stop etcd 10
