package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bss-api/bss-api/internal/testsupport/procfixture"
)

// maxCapHint bounds the latencies preallocated per connection.
const maxCapHint = 1 << 22

// measureAll measures bss-api and, if asked, the reference server, one
// after the other. The report holds whatever was measured, also on error.
func measureAll(ctx context.Context, log *slog.Logger, opts options) (*report, error) {
	rep := &report{opts: opts}
	if opts.url != "" {
		res, err := drive(ctx, log, opts, "server", opts.addr)
		if err != nil {
			return rep, err
		}
		rep.servers = append(rep.servers, serverResult{name: "server", load: res})
		return rep, nil
	}

	dir, err := os.MkdirTemp("", "bss-load-")
	if err != nil {
		return rep, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	bin := opts.serverBin
	if bin == "" {
		log.Info("building bss-api")
		if bin, err = buildServer(ctx, dir); err != nil {
			return rep, err
		}
	}
	extra := opts.serverArgs
	if opts.fixture.Processes > 0 {
		fix, err := writeFixture(log, dir, opts.fixture)
		if err != nil {
			return rep, err
		}
		extra = append(fix, extra...)
	}
	args := func(addr string) []string {
		return append(append([]string{}, extra...), "--listen="+addr)
	}
	sr, err := measureChild(ctx, log, opts, "bss-api", bin, args, dir)
	if err != nil {
		return rep, err
	}
	rep.servers = append(rep.servers, sr)

	if len(opts.baselineArgs) > 0 {
		// The same binary and fixture, other flags: e.g. the SQLite store
		// against the memory store, in one run.
		base := append(append([]string{}, extra...), opts.baselineArgs...)
		sr, err = measureChild(ctx, log, opts, "baseline", bin, func(addr string) []string {
			return append(append([]string{}, base...), "--listen="+addr)
		}, dir)
		if err != nil {
			return rep, err
		}
		rep.servers = append(rep.servers, sr)
		return rep, nil
	}
	if !opts.reference {
		return rep, nil
	}
	self, err := os.Executable()
	if err != nil {
		return rep, fmt.Errorf("find this binary to run the reference server: %w", err)
	}
	refArgs := func(addr string) []string { return []string{"-serve-reference", "-listen", addr} }
	sr, err = measureChild(ctx, log, opts, "reference", self, refArgs, dir)
	if err != nil {
		return rep, err
	}
	rep.servers = append(rep.servers, sr)
	return rep, nil
}

// writeFixture writes a synthetic /proc tree and returns the bss-api flags
// that point the process index at it.
func writeFixture(log *slog.Logger, dir string, spec procfixture.Spec) ([]string, error) {
	procRoot, cgroupRoot := filepath.Join(dir, "proc"), filepath.Join(dir, "cgroup")
	for _, d := range []string{procRoot, cgroupRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create fixture dir: %w", err)
		}
	}
	inPods, err := procfixture.Write(procRoot, spec)
	if err != nil {
		return nil, fmt.Errorf("write fixture /proc: %w", err)
	}
	log.Info("synthetic /proc written", "processes", spec.Processes, "pods", spec.Pods, "in_pods", inPods)
	return []string{"--proc-root=" + procRoot, "--cgroup-root=" + cgroupRoot}, nil
}

// measureChild starts a server as a child process, drives it, reads its
// peak RSS and stops it.
func measureChild(ctx context.Context, log *slog.Logger, opts options, name, bin string,
	args func(addr string) []string, dir string,
) (sr serverResult, err error) {
	addr, err := freeAddr()
	if err != nil {
		return sr, err
	}
	log.Info("starting", "server", name, "addr", addr)
	c, err := startChild(name, addr, bin, args(addr), dir)
	if err != nil {
		return sr, err
	}
	defer func() {
		if serr := c.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := c.waitReady(ctx); err != nil {
		return sr, err
	}
	if name != "reference" && opts.strategies > 0 {
		if err := postStrategies(ctx, log, addr, opts.target.token, opts.strategies); err != nil {
			return sr, err
		}
	}
	res, err := drive(ctx, log, opts, name, addr)
	if err != nil {
		return sr, err
	}
	if name != "reference" && opts.target.name == "post-metrics" {
		if err := verifyStored(ctx, log, addr, opts.target.token); err != nil {
			return sr, err
		}
	}
	rss, err := c.peakRSS()
	if err != nil {
		return sr, err
	}
	return serverResult{name: name, load: res, peakRSS: rss}, nil
}

// drive runs the warmup, then the measured load, against addr.
func drive(ctx context.Context, log *slog.Logger, opts options, name, addr string) (loadResult, error) {
	cfg := loadConfig{
		addr:    addr,
		request: buildRequest(opts.target, addr),
		method:  opts.target.method,
		conns:   opts.conns,
	}
	if opts.warmup > 0 {
		log.Info("warmup", "server", name, "duration", opts.warmup)
		cfg.duration = opts.warmup
		w, err := runLoad(ctx, cfg)
		if err != nil {
			return loadResult{}, fmt.Errorf("%s warmup: %w", name, err)
		}
		if w.errors() > 0 {
			log.Warn("errors during warmup", "server", name, "non2xx", w.non2xx, "first_status", w.firstBad,
				"transport", w.transport, "first_error", w.firstErr)
		}
		perConn := w.rate() * opts.duration.Seconds() * 1.25 / float64(opts.conns)
		cfg.capHint = min(int(perConn)+64, maxCapHint)
	}
	log.Info("measuring", "server", name, "duration", opts.duration, "connections", opts.conns)
	cfg.duration = opts.duration
	res, err := runLoad(ctx, cfg)
	if err != nil {
		return loadResult{}, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}
