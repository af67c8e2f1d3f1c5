#!/usr/bin/env bash
# The whole test suite with every real component it needs. .ci/run runs
# exactly this. It installs what is missing (Debian packages, Go tools),
# then runs gofmt, go vet (Linux and macOS builds), golangci-lint and
# `go test -race` over every package with BSS_TEST_STRICT=1, so a test whose
# component is missing fails instead of skipping. At the end it prints how
# long each phase took.
#
# Needs root (or sudo) to install packages. Slow builds are cached under
# ${BSS_CACHE:-$HOME/.cache/bss-api}, which survives between runs. Tests
# that need a real kube-apiserver start private ones with
# hack/controlplane/start.sh and stop them by PID.
#
# Budget: a cold run (empty caches) must stay under 45 minutes on 2 cores,
# a warm one under 10. The control-plane build is most of a cold run, so it
# runs in the background while the checks that cannot reuse what it
# compiles run in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0
CACHE=${BSS_CACHE:-$HOME/.cache/bss-api}
export PATH="/usr/local/go/bin:$PATH"
# The control plane is built with -trimpath; building our packages the same
# way lets vet, lint and tests reuse its compiled Kubernetes packages.
export GOFLAGS="${GOFLAGS:-} -trimpath"

log() { printf '\n==> %s\n' "$*" >&2; }

# Phase timing: phase NAME CMD... runs CMD and records how long it took.
# The table is printed on exit, failed or not.
phases=()
phase() {
  local name=$1 start=$SECONDS rc=0
  shift
  log "$name"
  "$@" || rc=$?
  phases+=("$(printf '%-34s %5ds%s' "$name" $((SECONDS - start)) "$([ $rc -eq 0 ] || echo "  FAILED ($rc)")")")
  return $rc
}
report() {
  local rc=$?
  # A failed run does not leave the background build behind.
  [ -z "${cp_pid:-}" ] || kill -- "-$cp_pid" 2>/dev/null || true
  [ -z "${helm_pid:-}" ] || kill -- "-$helm_pid" 2>/dev/null || true
  printf '\n==> phases (%s)\n' "$([ $rc -eq 0 ] && echo passed || echo "failed: $rc")" >&2
  for p in "${phases[@]}"; do printf '    %s\n' "$p" >&2; done
  printf '    %-34s %5ds\n' "total" "$SECONDS" >&2
}
trap report EXIT

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

# go_tool NAME MODULE@VERSION installs a Go tool once per version and Go
# version, and prints its path.
go_tool() {
  local name=$1 pkg=$2
  local dir="$CACHE/tools/$(go env GOVERSION)/${pkg##*@}"
  if [ ! -x "$dir/$name" ]; then
    log "building $name ${pkg##*@}"
    GOBIN="$dir" GOFLAGS= go install "$pkg" >&2
  fi
  printf '%s/%s' "$dir" "$name"
}

# chromium: the CSRF and DNS-rebinding tests drive a real headless browser.
# tmux: bssctl's live view is driven in a real terminal.
phase "apt packages" apt_install prometheus postgresql chromium tmux
export BSS_PROMETHEUS_BIN=/usr/bin/prometheus BSS_CHROMIUM_BIN=/usr/bin/chromium BSS_TMUX_BIN=/usr/bin/tmux

# A real etcd + kube-apiserver, built from source once and cached by
# version (13-26 minutes cold on 2 cores; instant when cached). It builds in
# the background while the static checks run.
cp_log=$(mktemp)
cp_start=$SECONDS
setsid hack/controlplane/build.sh >"$cp_log" 2>&1 &
cp_pid=$!

# helm, for the chart tests (helm lint, helm template), built from its Go
# module and cached the same way (a few minutes cold; instant when cached).
helm_log=$(mktemp)
helm_start=$SECONDS
setsid hack/helm/build.sh >"$helm_log" 2>&1 &
helm_pid=$!

gofmt_check() {
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then
    echo "not gofmt-formatted:"; echo "$unformatted"; return 1
  fi
}
lint() {
  local golangci_lint
  golangci_lint=$(go_tool golangci-lint "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION")
  "$golangci_lint" run ./...
}
# macOS developers run the server in mock mode; Linux-only code carries
# build tags, and this keeps it that way.
darwin() { GOOS=darwin go build ./... && GOOS=darwin go vet ./...; }

# While the control plane builds, only what cannot share its compiled
# packages runs: gofmt, the macOS build (other GOOS, other cache entries)
# and golangci-lint (it type-checks from source with its own cache). The
# Linux vet and the tests wait for the build and reuse what it compiled.
phase "gofmt" gofmt_check
phase "go build + vet (GOOS=darwin)" darwin
phase "golangci-lint" lint

cp_wait() {
  local rc=0
  wait "$cp_pid" || rc=$?
  cp_pid=
  grep -v '^/' "$cp_log" | tail -n 5 >&2 || true
  [ $rc -eq 0 ] || { cat "$cp_log" >&2; return $rc; }
  BSS_CONTROLPLANE_BIN_DIR=$(tail -n 1 "$cp_log")
  export BSS_CONTROLPLANE_BIN_DIR
}
phase "control plane (wait for build)" cp_wait
phases+=("$(printf '%-34s %5ds' "  (control plane build, overlapped)" $((SECONDS - cp_start)))")
helm_wait() {
  local rc=0
  wait "$helm_pid" || rc=$?
  helm_pid=
  [ $rc -eq 0 ] || { cat "$helm_log" >&2; return $rc; }
  BSS_HELM_BIN=$(tail -n 1 "$helm_log")
  export BSS_HELM_BIN
}
phase "helm (wait for build)" helm_wait
phases+=("$(printf '%-34s %5ds' "  (helm build, overlapped)" $((SECONDS - helm_start)))")
phase "go vet" go vet ./...

export BSS_TEST_STRICT=1
# Tests that leave files for people to look at (the dashboard's screenshots
# at two widths, light and dark, and its page weight and render time) put
# them here; the directory is gitignored.
export BSS_ARTIFACTS_DIR=${BSS_ARTIFACTS_DIR:-$PWD/artifacts}
mkdir -p "$BSS_ARTIFACTS_DIR"
log "test artifacts (dashboard screenshots, measurements) go to $BSS_ARTIFACTS_DIR"
phase "go test -race" go test -race -count=1 -timeout 30m ./...

if [ -n "${BSS_FUZZTIME:-}" ]; then
  fuzz() {
    go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "$BSS_FUZZTIME" ./internal/metrics/ &&
      go test -run '^$' -fuzz '^FuzzPostMetrics$' -fuzztime "$BSS_FUZZTIME" ./internal/httpapi/
  }
  phase "fuzz ($BSS_FUZZTIME per target)" fuzz
fi
log "all tests passed"
