#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for tests and local runs.
#
# Usage: hack/postgres/start.sh DIR
#
# Needs Debian's `postgresql` package (server binaries under
# /usr/lib/postgresql/*/bin); installs nothing. Run as root, the server runs
# as the `postgres` system user (DIR is chowned to it, and every directory
# above DIR must be searchable by it); run as another user, it runs as that
# user.
#
# DIR holds everything: data/ (the cluster, fsync on), sock/ (the Unix
# socket), postgres.log, password (of role bss), env (shell `export` lines,
# also printed on stdout, so `eval "$(start.sh DIR)"` works). Progress goes
# to stderr. The server listens on 127.0.0.1 at a free port in 20000-32767;
# database `bss` is owned by role `bss` (LOGIN CREATEDB, with a password).
#
# Stop it with hack/postgres/stop.sh DIR.
set -euo pipefail

log() { printf '[postgres/start] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
TIMEOUT=${BSS_POSTGRES_TIMEOUT:-60} # seconds, for the server to get ready
t0=$(date +%s.%N)

# The newest installed server.
BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | while read -r d; do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; fi
done | tail -n 1)
[ -n "$BIN" ] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin; install Debian's postgresql package"

# as_pg CMD...: runs CMD as the server's user.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres system user (the postgresql package creates it)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# running PID: PID is a live (non-zombie) postgres process.
running() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = postgres ] &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
pid_of() { head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true; }

pid=$(pid_of)
if [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid"; then
  die "a server started from $DIR is running (pid $pid); stop it with hack/postgres/stop.sh $DIR"
fi

# free_port prints a TCP port free on 127.0.0.1, below the kernel's
# ephemeral range so an outgoing connection cannot take it meanwhile.
free_port() {
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
' 2>/dev/null && return 0
  # Without python3: a random port not listed in /proc/net/tcp*.
  local p
  while :; do
    p=$((20000 + RANDOM % 12768))
    grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
    echo "$p"
    return 0
  done
}

rm -rf "$DIR/data" "$DIR/sock" "$DIR/env" "$DIR/password"
mkdir -p "$DIR/sock"
SOCK="$DIR/sock"
[ ${#SOCK} -le 90 ] || die "$DIR is too long a path for a Unix socket inside it; use a shorter DIR"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$DIR" "$DIR/sock"
  as_pg test -x "$DIR" -a -w "$DIR" || die "the postgres user cannot enter $DIR (a directory above it is private?)"
fi

PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf '%s\n' "$PASSWORD" >"$DIR/password"
[ "$(id -u)" != 0 ] || chown postgres: "$DIR/password"

log "initdb ($BIN) in $DIR/data"
as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { tail -n 30 "$DIR/initdb.log" >&2; die "initdb failed"; }

PORT=
for attempt in 1 2 3; do
  port=$(free_port)
  log "starting postgres on 127.0.0.1:$port (attempt $attempt)"
  # pg_ctl detaches the server (stdin /dev/null, output to the log).
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -s -W \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$SOCK" start ||
    die "pg_ctl start failed; see $DIR/postgres.log"
  ready=
  for ((i = 0; i < TIMEOUT * 10; i++)); do
    if as_pg "$BIN/pg_isready" -q -h "$SOCK" -p "$port" -U postgres -d postgres; then ready=1; break; fi
    pid=$(pid_of)
    # Not (yet) running after a second: it exited (a port taken meanwhile?).
    if [ "$i" -ge 10 ] && ! { [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid"; }; then break; fi
    sleep 0.1
  done
  if [ -n "$ready" ]; then PORT=$port; break; fi
  pid=$(pid_of)
  if [[ "$pid" =~ ^[0-9]+$ ]] && running "$pid"; then
    "$(dirname "$0")/stop.sh" "$DIR" || true
    die "postgres did not get ready within ${TIMEOUT}s; see $DIR/postgres.log"
  fi
  log "postgres exited during startup; last lines of $DIR/postgres.log:"
  tail -n 10 "$DIR/postgres.log" >&2 || true
done
[ -n "$PORT" ] || die "postgres did not start; see $DIR/postgres.log"

psql() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@"; }
psql -c "CREATE ROLE bss LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null || die "create role bss failed"
psql -c "CREATE DATABASE bss OWNER bss" >/dev/null || die "create database bss failed"

PID=$(pid_of)
{
  echo "export BSS_POSTGRES_DSN='postgres://bss:$PASSWORD@127.0.0.1:$PORT/bss?sslmode=disable'"
  echo "export BSS_POSTGRES_PID=$PID"
  echo "export BSS_POSTGRES_PORT=$PORT"
  echo "export BSS_POSTGRES_DATA='$DIR/data'"
  echo "export BSS_POSTGRES_BIN='$BIN'"
} >"$DIR/env.tmp"
mv "$DIR/env.tmp" "$DIR/env"
log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s: 127.0.0.1:$PORT (pid $PID); env in $DIR/env"
cat "$DIR/env"
