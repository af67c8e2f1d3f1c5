#!/usr/bin/env bash
# Starts a throwaway etcd + kube-apiserver on loopback for integration tests.
#
# Usage: hack/controlplane/start.sh DIR
#        hack/controlplane/start.sh --restart-apiserver DIR
#
# DIR holds everything: etcd-data/, certs/, logs (etcd.log, kube-apiserver.log),
# PID files (etcd.pid, kube-apiserver.pid), tokens.csv, sa.key,
# apiserver.args (the exact kube-apiserver argument list, one per line),
# kubeconfig and env (shell `export` lines; also printed on stdout, so
# `eval "$(start.sh DIR)"` works). Progress goes to stderr.
#
# The binaries come from build.sh, which builds them on a cold cache (13-26
# minutes) and returns at once on a warm one.
#
# --restart-apiserver stops the running kube-apiserver (if any) and starts it
# again with the same arguments, so on the same port with the same etcd, then
# waits for /readyz and rewrites kube-apiserver.pid and env.
#
# Stop everything with hack/controlplane/stop.sh DIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[controlplane/start] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

mode=start
if [ "${1:-}" = --restart-apiserver ]; then mode=restart; shift; fi
[ $# -eq 1 ] || die "usage: $0 [--restart-apiserver] DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
TIMEOUT=${BSS_CONTROLPLANE_TIMEOUT:-60} # seconds, for each process to get ready

# alive PIDFILE NAME: the process in PIDFILE runs and is NAME (not a reused PID,
# not a zombie).
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# free_ports N prints N distinct TCP ports that are free on 127.0.0.1. They
# are drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
# 32768-60999 by default), so an outgoing connection cannot grab one between
# the check here and the bind by etcd or kube-apiserver; start.sh still retries
# if a port was taken in between.
free_ports() {
  python3 -c '
import random, socket, sys
ports = []
while len(ports) < int(sys.argv[1]):
    p = random.randint(20000, 32767)
    if p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    ports.append(p)
print(" ".join(map(str, ports)))
' "$1" 2>/dev/null && return 0
  # Without python3: random ports not listed in /proc/net/tcp*.
  local ports=() p
  while [ ${#ports[@]} -lt "$1" ]; do
    p=$((20000 + RANDOM % 12768))
    grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
    [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
  done
  echo "${ports[*]}"
}

show_log() { log "last lines of $1:"; tail -n 30 "$1" >&2 || true; }

# wait_ready NAME PIDFILE LOG CHECK...: polls CHECK until it succeeds, the
# process dies (returns 2) or TIMEOUT passes (returns 1).
wait_ready() {
  local name=$1 pidfile=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    alive "$pidfile" "$name" || { log "$name exited during startup"; show_log "$logfile"; return 2; }
    "$@" && return 0
    sleep 0.1
  done
  log "$name not ready after ${TIMEOUT}s"
  show_log "$logfile"
  return 1
}

etcd_healthy() {
  curl -fsS --max-time 2 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'
}

apiserver_ready() {
  [ -s "$DIR/certs/apiserver.crt" ] &&
    [ "$(curl -fsS --max-time 2 --cacert "$DIR/certs/apiserver.crt" \
      -H "Authorization: Bearer $TOKEN" "$APISERVER_URL/readyz" 2>/dev/null)" = ok ]
}

# launch_apiserver starts kube-apiserver with the arguments in apiserver.args.
launch_apiserver() {
  local args
  mapfile -t args <"$DIR/apiserver.args"
  "$BIN/kube-apiserver" "${args[@]}" </dev/null >>"$DIR/kube-apiserver.log" 2>&1 &
  echo $! >"$DIR/kube-apiserver.pid"
}

write_env() {
  q() { printf 'export %s=%q\n' "$1" "$2"; }
  {
    q KUBECONFIG "$DIR/kubeconfig"
    q BSS_CONTROLPLANE_DIR "$DIR"
    q BSS_CONTROLPLANE_BIN_DIR "$BIN"
    q BSS_KUBE_APISERVER_URL "$APISERVER_URL"
    q BSS_KUBE_ADMIN_TOKEN "$TOKEN"
    q BSS_KUBE_CA_FILE "$DIR/certs/apiserver.crt"
    q BSS_KUBE_ETCD_URL "$ETCD_URL"
    q BSS_KUBE_ETCD_PID "$(cat "$DIR/etcd.pid")"
    q BSS_KUBE_APISERVER_PID "$(cat "$DIR/kube-apiserver.pid")"
    q BSS_KUBE_APISERVER_PID_FILE "$DIR/kube-apiserver.pid"
    q BSS_KUBE_APISERVER_LOG "$DIR/kube-apiserver.log"
    # To restart the apiserver by hand: kill $BSS_KUBE_APISERVER_PID, then
    # run $BSS_KUBE_APISERVER_BIN with the lines of $BSS_KUBE_APISERVER_ARGS_FILE
    # as its arguments and write its PID to $BSS_KUBE_APISERVER_PID_FILE
    # (so stop.sh finds it); or run $BSS_KUBE_APISERVER_RESTART.
    q BSS_KUBE_APISERVER_BIN "$BIN/kube-apiserver"
    q BSS_KUBE_APISERVER_ARGS_FILE "$DIR/apiserver.args"
    q BSS_KUBE_APISERVER_RESTART "$(printf '%q --restart-apiserver %q' "$here/start.sh" "$DIR")"
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

BIN=$("$here/build.sh" | tail -n 1)
if [ ! -x "$BIN/etcd" ] || [ ! -x "$BIN/kube-apiserver" ]; then die "build.sh did not produce the binaries"; fi
t0=$(date +%s.%N)

if [ "$mode" = restart ]; then
  if [ ! -s "$DIR/env" ] || [ ! -s "$DIR/apiserver.args" ]; then die "$DIR was not set up by start.sh"; fi
  # shellcheck disable=SC1091
  . "$DIR/env"
  APISERVER_URL=$BSS_KUBE_APISERVER_URL TOKEN=$BSS_KUBE_ADMIN_TOKEN ETCD_URL=$BSS_KUBE_ETCD_URL
  alive "$DIR/etcd.pid" etcd || die "etcd is not running; use $0 $DIR"
  if alive "$DIR/kube-apiserver.pid" kube-apiserver; then
    BSS_CONTROLPLANE_ONLY=kube-apiserver "$here/stop.sh" "$DIR"
  fi
  log "restarting kube-apiserver on $APISERVER_URL"
  launch_apiserver
  wait_ready kube-apiserver "$DIR/kube-apiserver.pid" "$DIR/kube-apiserver.log" apiserver_ready ||
    die "kube-apiserver did not come back"
  write_env
  log "kube-apiserver ready again in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  cat "$DIR/env"
  exit 0
fi

if alive "$DIR/etcd.pid" etcd || alive "$DIR/kube-apiserver.pid" kube-apiserver; then
  die "a control plane is already running in $DIR; run stop.sh $DIR first"
fi

ok=0
trap '[ $ok -eq 1 ] || "$here/stop.sh" "$DIR" >&2 || true' EXIT

# Fresh state on every start; logs are truncated, certs regenerated.
rm -rf "$DIR/etcd-data" "$DIR/certs" "$DIR/kubeconfig" "$DIR/env" "$DIR"/*.pid
: >"$DIR/etcd.log"
: >"$DIR/kube-apiserver.log"
TOKEN=$(openssl rand -hex 32)
printf '%s,admin,admin-uid,system:masters\n' "$TOKEN" >"$DIR/tokens.csv"
openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
chmod 600 "$DIR/tokens.csv" "$DIR/sa.key"

# etcd. A free port can be taken between picking and binding it; retry then.
for attempt in 1 2 3; do
  read -r cport pport < <(free_ports 2)
  ETCD_URL=http://127.0.0.1:$cport
  rm -rf "$DIR/etcd-data"
  log "starting etcd on $ETCD_URL"
  "$BIN/etcd" \
    --name=controlplane \
    --data-dir="$DIR/etcd-data" \
    --listen-client-urls="$ETCD_URL" \
    --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls="http://127.0.0.1:$pport" \
    --initial-cluster="controlplane=http://127.0.0.1:$pport" \
    --initial-cluster-state=new \
    --unsafe-no-fsync \
    --log-level=warn \
    </dev/null >>"$DIR/etcd.log" 2>&1 &
  echo $! >"$DIR/etcd.pid"
  rc=0
  wait_ready etcd "$DIR/etcd.pid" "$DIR/etcd.log" etcd_healthy || rc=$?
  [ $rc -eq 0 ] && break
  if [ $rc -ne 2 ] || [ $attempt -eq 3 ]; then die "etcd did not start"; fi
done

# kube-apiserver.
for attempt in 1 2 3; do
  read -r port < <(free_ports 1)
  APISERVER_URL=https://127.0.0.1:$port
  rm -rf "$DIR/certs"
  args=(
    --etcd-servers="$ETCD_URL"
    --secure-port="$port"
    --bind-address=127.0.0.1
    --advertise-address=127.0.0.1
    --endpoint-reconciler-type=none
    --token-auth-file="$DIR/tokens.csv"
    --authorization-mode=RBAC
    --service-account-key-file="$DIR/sa.key"
    --service-account-signing-key-file="$DIR/sa.key"
    --service-account-issuer=https://kubernetes.default.svc.cluster.local
    --cert-dir="$DIR/certs"
    --disable-admission-plugins=ServiceAccount
    --service-cluster-ip-range=10.0.0.0/24
  )
  printf '%s\n' "${args[@]}" >"$DIR/apiserver.args"
  log "starting kube-apiserver on $APISERVER_URL"
  launch_apiserver
  rc=0
  wait_ready kube-apiserver "$DIR/kube-apiserver.pid" "$DIR/kube-apiserver.log" apiserver_ready || rc=$?
  [ $rc -eq 0 ] && break
  if [ $rc -ne 2 ] || [ $attempt -eq 3 ]; then die "kube-apiserver did not start"; fi
done

yq() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bss-controlplane
  cluster:
    server: $(yq "$APISERVER_URL")
    certificate-authority: $(yq "$DIR/certs/apiserver.crt")
users:
- name: admin
  user:
    token: $(yq "$TOKEN")
contexts:
- name: bss-controlplane
  context:
    cluster: bss-controlplane
    user: admin
current-context: bss-controlplane
EOF
chmod 600 "$DIR/kubeconfig"
write_env
ok=1
log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s: $APISERVER_URL (etcd $ETCD_URL); env in $DIR/env"
cat "$DIR/env"
