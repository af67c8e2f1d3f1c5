#!/usr/bin/env bash
# The whole test suite with every real component it needs. .ci/run runs
# exactly this. It installs what is missing (Debian packages, Go tools),
# then runs gofmt, go vet, golangci-lint and `go test -race` over every
# package with BSS_TEST_STRICT=1, so a test whose component is missing
# fails instead of skipping.
#
# Needs root (or sudo) to install packages. Slow builds are cached under
# ${BSS_CACHE:-$HOME/.cache/bss-api}, which survives between runs. Tests
# that need a real kube-apiserver start private ones with
# hack/controlplane/start.sh and stop them by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0
CACHE=${BSS_CACHE:-$HOME/.cache/bss-api}
export PATH="/usr/local/go/bin:$PATH"

log() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG... installs the Debian packages that are not installed yet,
# without starting their services (tests start their own instances).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    created=1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "$created" -eq 1 ] && as_root rm -f "$policy"
  return 0
}

# go_tool NAME MODULE@VERSION installs a Go tool once per version and Go version.
go_tool() {
  local name=$1 pkg=$2
  local dir="$CACHE/tools/$(go env GOVERSION)/${pkg##*@}"
  if [ ! -x "$dir/$name" ]; then
    log "building $name ${pkg##*@}"
    GOBIN="$dir" go install "$pkg" >&2
  fi
  printf '%s/%s' "$dir" "$name"
}

apt_install prometheus postgresql
export BSS_PROMETHEUS_BIN=/usr/bin/prometheus

# PostgreSQL: tests start private clusters with hack/postgres/start.sh as
# the postgres user, on loopback, and stop them by PID.

# A real etcd + kube-apiserver, built from source once and cached by
# version (13-26 minutes cold on 2 cores; instant when cached).
log "control plane binaries (hack/controlplane/build.sh)"
BSS_CONTROLPLANE_BIN_DIR=$(hack/controlplane/build.sh | tail -n 1)
export BSS_CONTROLPLANE_BIN_DIR
golangci_lint=$(go_tool golangci-lint "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION")

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

log "go vet"
go vet ./...

log "golangci-lint"
"$golangci_lint" run ./...

log "go test -race (fuzz seed corpora included)"
export BSS_TEST_STRICT=1
go test -race -count=1 -timeout 30m ./...

if [ -n "${BSS_FUZZTIME:-}" ]; then
  log "fuzzing for $BSS_FUZZTIME per target"
  go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "$BSS_FUZZTIME" ./internal/metrics/
  go test -run '^$' -fuzz '^FuzzPostMetrics$' -fuzztime "$BSS_FUZZTIME" ./internal/httpapi/
fi
log "all tests passed"
