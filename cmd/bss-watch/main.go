// Command bss-watch measures blocking queries (GET …?wait=) against the
// polling they replace, and prints the figures. It asserts nothing about
// time.
//
// It builds bss-api from the module root, runs it as a child process on a
// free 127.0.0.1 port (--store=memory --kube-mode=off; the per-caller
// write rate raised so the writes are not refused; and
// --max-connections-per-client raised above -waiters, since every waiter
// comes from this one address and holds its own connection), and
// measures:
//
//   - write → waiting client: one client holds GET strategies?wait= with
//     the current ETag; a strategy write (POST, a pid strategy for this
//     process) is timed from just before it is sent until the waiting
//     client has read the whole new answer. -writes times, p50/p99/max.
//   - fan-out: -waiters clients (one connection each) hold the same GET;
//     one write; how long until every one of them has the new answer, and
//     how much the server's RSS grew while they were held (VmRSS held
//     minus VmRSS before). -rounds times.
//   - relabel → waiting client (with -relabel): runs
//     `go test -run '^$' -bench BenchmarkWatchRelabel ./internal/app`,
//     which starts a private kube-apiserver (BSS_CONTROLPLANE_BIN_DIR),
//     real cgroups and processes (root), and times a pod's label change
//     until a client waiting on GET strategies holds the answer.
//
// Beside them it prints what polling every 5 s gives for the same change:
// a change lands anywhere in the interval, so the poller learns of it
// 2.5 s later on average (p99 4.95 s).
//
// Usage:
//
//	go run ./cmd/bss-watch [-writes 500] [-waiters 1000] [-rounds 5] [-relabel]
//	go run ./cmd/bss-watch -server-bin ./bss-api -server-args '--log-level=warn'
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bss-watch:", err)
		os.Exit(1)
	}
}

type options struct {
	writes, waiters, rounds int
	relabel                 bool
	relabelN                int
	serverBin               string
	serverArgs              []string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	var extra string
	fs := flag.NewFlagSet("bss-watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.writes, "writes", 500, "writes timed for write → waiting client")
	fs.IntVar(&o.waiters, "waiters", 1000, "concurrent waiting clients in the fan-out")
	fs.IntVar(&o.rounds, "rounds", 5, "fan-out rounds")
	fs.BoolVar(&o.relabel, "relabel", false, "also time relabel → waiting client on a private kube-apiserver (root, BSS_CONTROLPLANE_BIN_DIR)")
	fs.IntVar(&o.relabelN, "relabels", 200, "relabels timed with -relabel")
	fs.StringVar(&o.serverBin, "server-bin", "", "bss-api binary (default: build it)")
	fs.StringVar(&extra, "server-args", "", "extra bss-api arguments, split on spaces")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.writes < 1 || o.waiters < 1 || o.rounds < 1 || o.relabelN < 1 {
		return fmt.Errorf("-writes, -waiters, -rounds and -relabels must be positive")
	}
	o.serverArgs = strings.Fields(extra)

	srv, err := startServer(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(stderr, "bss-watch: stopping bss-api:", err)
		}
	}()
	b := newBench(srv)
	fmt.Fprintf(stdout, "bss-watch: bss-api pid %d on %s, %d CPUs\n\n", srv.cmd.Process.Pid, srv.addr, numCPU())

	lat, err := b.writeLatency(ctx, o.writes)
	if err != nil {
		return fmt.Errorf("write → waiting client: %w", err)
	}
	fmt.Fprintf(stdout, "write → waiting client holds the new answer (%d writes, loopback):\n  %s\n", o.writes, lat)
	fmt.Fprintf(stdout, "  (the write's own answer: %s)\n\n", b.postLatency)

	fmt.Fprintf(stdout, "%d concurrent waiters, one write (%d rounds):\n", o.waiters, o.rounds)
	for i := range o.rounds {
		r, err := b.fanOut(ctx, o.waiters)
		if err != nil {
			return fmt.Errorf("fan-out round %d: %w", i+1, err)
		}
		fmt.Fprintf(stdout, "  round %d: all %d received it within %s (p50 %s, p99 %s); RSS %.1f MiB → %.1f MiB held (+%.1f MiB)\n",
			i+1, o.waiters, ms(r.all), ms(r.p50), ms(r.p99), mib(r.rssBefore), mib(r.rssHeld), mib(r.rssHeld-r.rssBefore))
	}
	fmt.Fprintln(stdout)

	if o.relabel {
		if err := relabel(ctx, o.relabelN, stdout, stderr); err != nil {
			return fmt.Errorf("relabel: %w", err)
		}
	}
	poll := 5 * time.Second
	fmt.Fprintf(stdout, "polling every %s instead (what the scheduler does without wait): the change is seen %s later on average, p99 %s\n",
		poll, poll/2, poll*99/100)
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) float64 { return float64(n) / (1 << 20) }
