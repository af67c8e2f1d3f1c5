#!/usr/bin/env bash
# Builds etcd and kube-apiserver from source (through the Go module proxy)
# into a cache directory outside the checkout, once per version and Go
# version, and prints that directory as the last line on stdout. Progress
# goes to stderr. A warm cache returns at once.
#
# Usage: hack/controlplane/build.sh
#
# Cache: ${BSS_CACHE:-$HOME/.cache/bss-api}/controlplane/k8s-<v>-etcd-<v>-<go>/
# Cost from empty Go caches: ~88 MB of downloads, ~1,300 CPU-seconds
# (13-26 min on 2 cores), ~2.5 GB peak memory. See README.md.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.0

here=$(cd "$(dirname "$0")" && pwd)
export PATH="/usr/local/go/bin:$PATH"
log() { printf '[controlplane/build] %s\n' "$*" >&2; }

# The versions above name the cache directory; they must be the ones that
# go.mod actually builds, or a stale cache would be reused.
grep -Eq "^[[:space:]]*k8s.io/kubernetes ${K8S_VERSION//./\\.}\$" "$here/go.mod" ||
  { log "go.mod does not require k8s.io/kubernetes $K8S_VERSION; update build.sh"; exit 1; }
grep -Eq "^[[:space:]]*go.etcd.io/etcd/server/v3 ${ETCD_VERSION//./\\.}\$" "$here/go.mod" ||
  { log "go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION; update build.sh"; exit 1; }

goversion=$(go env GOVERSION)
parent="${BSS_CACHE:-$HOME/.cache/bss-api}/controlplane"
dir="$parent/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-$goversion"

complete() { [ -x "$1/etcd" ] && [ -x "$1/kube-apiserver" ]; }

if complete "$dir"; then
  printf '%s\n' "$dir"
  exit 0
fi

mkdir -p "$parent"
# Serialise concurrent callers (e.g. several test packages starting at once):
# the second one waits and then finds the cache warm.
exec 9>"$parent/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if complete "$dir"; then
  printf '%s\n' "$dir"
  exit 0
fi

# Holding the lock, any .tmp-* left here is from an interrupted build.
rm -rf "$parent"/.tmp-*
tmp=$(mktemp -d "$parent/.tmp-k8s-$K8S_VERSION-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

ver=${K8S_VERSION#v}
major=${ver%%.*}
minor=${ver#*.}
minor=${minor%%.*}
ldflags="-s -w"
ldflags+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
ldflags+=" -X k8s.io/component-base/version.gitMajor=$major"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

log "building etcd $ETCD_VERSION and kube-apiserver $K8S_VERSION with $goversion into $dir"
log "a cold build takes 13-26 minutes on 2 cores and ~2.5 GB of memory; a warm Go build cache ~15 s"
start=$SECONDS
# -v names each package as it is compiled; show a running count instead of
# ~2,000 lines, and pass through everything else (errors).
(
  cd "$here"
  nice -n 10 go build -v -trimpath -mod=readonly -ldflags "$ldflags" -o "$tmp/" \
    go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver 2>&1
) | {
  n=0
  while IFS= read -r line; do
    case $line in
      '' | *[' #:']*) printf '%s\n' "$line" >&2 ;;
      *) n=$((n + 1)); [ $((n % 200)) -ne 0 ] || log "$n packages compiled ($((SECONDS - start)) s)" ;;
    esac
  done
  log "$n packages compiled"
}
mv "$tmp/server" "$tmp/etcd"

# Check that the result is what the directory name says before publishing it.
got=$("$tmp/kube-apiserver" --version)
[ "$got" = "Kubernetes $K8S_VERSION" ] || { log "kube-apiserver --version printed '$got'"; exit 1; }
got=$("$tmp/etcd" --version | sed -n 's/^etcd Version: //p')
[ "v$got" = "$ETCD_VERSION" ] || { log "etcd --version printed '$got'"; exit 1; }

# Publish atomically: a rename within the same parent. An interrupted build
# leaves only a .tmp-* directory, never a half-filled cache directory.
chmod 755 "$tmp"
rm -rf "$dir" # only reachable if $dir exists but is incomplete
mv -T "$tmp" "$dir"
trap - EXIT
log "built in $((SECONDS - start)) s"
printf '%s\n' "$dir"
