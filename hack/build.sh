#!/usr/bin/env bash
# Builds the static bss-api binary, and bssctl (its command line) next to
# it. The Dockerfile runs exactly this script,
# and so does the test suite (TestBuildScriptMakesStaticBinary), so the image
# build and the tested build cannot drift apart.
#
# Usage: hack/build.sh [OUTPUT]   (default: bin/bss-api; bssctl goes in OUTPUT's directory)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/bss-api}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X github.com/bss-api/bss-api/internal/buildinfo.version=${version}"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out" .
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$(dirname "$out")/bssctl" ./cmd/bssctl
