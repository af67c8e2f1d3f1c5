// Command bss-load measures how fast bss-api serves one kind of request
// over loopback, next to a minimal net/http reference server measured the
// same way, and prints requests per second, latency percentiles, errors,
// peak RSS and the throughput ratio. It only prints; it asserts nothing
// about time.
//
// By default it builds bss-api from the module root into a temporary
// directory, runs it as a child process on a free 127.0.0.1 port with its
// logs going to a file, drives it with -c keep-alive connections for
// -warmup and then -d, reads its peak RSS (VmHWM) and stops it with SIGTERM.
// It then does the same with the reference server, which is this binary
// re-executed with the hidden flag -serve-reference.
//
// Usage:
//
//	go run ./cmd/bss-load [flags]
//
// Examples:
//
//	go run ./cmd/bss-load -d 5s
//	go run ./cmd/bss-load -c 16 -target get:/api/v1/metrics -json
//	go run ./cmd/bss-load -server-args '--log-level=warn'
//	go run ./cmd/bss-load -batch 100 -baseline-args --store=memory
//	go run ./cmd/bss-load -url http://127.0.0.1:8080   # an already-running server, no reference, no RSS
//	go run ./cmd/bss-load -token "$(cat sched.token)" -server-args "--token-auth-file=tokens.csv"
//
// Flags:
//
//	-c N               concurrent keep-alive connections (default 64)
//	-d D               duration of each measurement (default 10s)
//	-warmup D          load before each measurement, not counted (default 2s)
//	-target T          post-metrics (POST /api/v1/metrics with the seed's body)
//	                   or get:/path (GET of any path) (default post-metrics)
//	-server-bin PATH   bss-api binary to run (default: build it once)
//	-server-args ARGS  extra bss-api arguments, split on spaces
//	-url URL           measure the server at http://127.0.0.1:PORT instead
//	-token TOKEN       send Authorization: Bearer TOKEN with every request
//	-batch N           with post-metrics, send JSON arrays of N samples and
//	                   report samples/s too (default 1: single objects)
//	-reference         also measure the reference server (default true)
//	-json              also print the result as one JSON object
//
// The measured requests are written by hand (httpwire.go): each is a
// ready-made byte string sent on a kept connection and its answer parsed
// without allocating, so the generator costs far less than the server it
// measures. Everything around them goes through the public client package
// (github.com/bss-api/bss-api/client): waiting for readiness, posting the
// -strategies and reading them back, and, after a post-metrics run,
// checking that the server stored the samples it was sent.
//
// The exit status is 0 when every server ran and every request got a 2xx
// response, 1 when a server failed or any request failed, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bss-load:", err)
		return 2
	}
	if opts.serveReference {
		if err := serveReference(ctx, opts.listen); err != nil {
			fmt.Fprintln(stderr, "bss-load reference:", err)
			return 1
		}
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	rep, err := measureAll(ctx, log, opts)
	if rep != nil {
		if werr := rep.write(stdout, opts.jsonOut); werr != nil && err == nil {
			err = fmt.Errorf("write report: %w", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bss-load: FAILED:", err)
		return 1
	}
	if n := rep.errorCount(); n > 0 {
		fmt.Fprintf(stderr, "bss-load: FAILED: %d requests failed (non-2xx responses or transport errors); the numbers above are not valid\n", n)
		return 1
	}
	return 0
}
