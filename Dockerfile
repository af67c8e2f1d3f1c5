# syntax=docker/dockerfile:1
# Build: docker build -t bss-metrics-api:latest .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same build the README documents and the tests run (bss-api, and
# bssctl next to it).
RUN VERSION=${VERSION} ./hack/build.sh /out/bss-api && mkdir -p /out/data

# A static binary needs no libc: distroless/static has CA certificates,
# /etc/passwd with a nonroot user, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bss-api /bss-api
# The command line, for `kubectl exec ds/bss-api -- /bssctl get pods`.
COPY --from=build /out/bssctl /bssctl
COPY --from=build --chown=65532:65532 /out/data /var/lib/bss-api
USER 65532:65532
# The default SQLite store; mount a volume here to keep it.
ENV BSS_DATA_DIR=/var/lib/bss-api
VOLUME /var/lib/bss-api
EXPOSE 8080
ENTRYPOINT ["/bss-api"]
