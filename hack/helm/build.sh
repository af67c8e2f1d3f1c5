#!/usr/bin/env bash
# Builds helm from its Go module (through the Go module proxy) into a cache
# directory outside the checkout, once per helm version and Go version, and
# prints the binary's path as the last line on stdout. Progress goes to
# stderr. A warm cache returns at once.
#
# Usage: hack/helm/build.sh
#
# Cache: ${BSS_CACHE:-$HOME/.cache/bss-api}/tools/<go>/helm-<v>/helm
# The chart tests (charts/bss-api) find the binary through BSS_HELM_BIN;
# hack/test.sh runs this in the background and exports it.
set -euo pipefail

HELM_VERSION=v3.22.0

export PATH="/usr/local/go/bin:$PATH"
log() { printf '[helm/build] %s\n' "$*" >&2; }

goversion=$(go env GOVERSION)
parent="${BSS_CACHE:-$HOME/.cache/bss-api}/tools/$goversion"
dir="$parent/helm-$HELM_VERSION"
bin="$dir/helm"

if [ -x "$bin" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$parent"
# Serialise concurrent callers: the second one waits and then finds the
# cache warm.
exec 9>"$parent/.helm-build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if [ -x "$bin" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

# Holding the lock, any .tmp-helm-* left here is from an interrupted build.
rm -rf "$parent"/.tmp-helm-*
tmp=$(mktemp -d "$parent/.tmp-helm-$HELM_VERSION-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

log "building helm $HELM_VERSION with $goversion into $dir"
start=$SECONDS
# A throwaway module pins the exact version (go.sum is verified against
# sum.golang.org); the version is stamped as the release tarballs do.
mkdir "$tmp/mod" "$tmp/out"
(
  cd "$tmp/mod"
  go mod init bss-api.local/helm-build >/dev/null 2>&1
  GOFLAGS=-mod=mod go get "helm.sh/helm/v3@$HELM_VERSION" >&2
  # As helm's Makefile does: the Kubernetes version helm template and helm
  # lint assume is the one of the client-go it is built with (v0.N -> 1.N),
  # not the compiled-in fallback 1.20.
  k8s=$(GOFLAGS=-mod=mod go list -m -f '{{.Version}}' k8s.io/client-go)
  k8s=${k8s#v}
  major=$((${k8s%%.*} + 1))
  minor=${k8s#*.}
  minor=${minor%%.*}
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=$major -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$minor"
  done
  GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$ldflags" \
    -o "$tmp/out/helm" helm.sh/helm/v3/cmd/helm
)

# Check that the result is what the directory name says before publishing it.
got=$("$tmp/out/helm" version --template '{{.Version}}')
[ "$got" = "$HELM_VERSION" ] || { log "helm version printed '$got'"; exit 1; }

# Publish atomically: a rename within the same parent.
chmod 755 "$tmp/out"
rm -rf "$dir"
mv -T "$tmp/out" "$dir"
log "built in $((SECONDS - start)) s"
printf '%s\n' "$bin"
