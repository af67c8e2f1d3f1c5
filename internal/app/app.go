// Package app wires configuration, components and the HTTP server together
// and owns every goroutine of the process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/buildinfo"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/connlimit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/httpapi"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
	"github.com/bss-api/bss-api/internal/strategy"
)

// usageError marks errors caused by bad flags or environment.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// ExitCode returns the process exit status for an error returned by Run:
// 2 for bad configuration, 1 for anything else.
func ExitCode(err error) int {
	if _, ok := errors.AsType[usageError](err); ok {
		return 2
	}
	return 1
}

// Run runs the server until ctx is cancelled, then shuts it down gracefully.
// args are the command-line arguments without the program name; getenv
// reads the environment. Logs go to stderr; --help and --version to stdout.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(ctx, args, getenv, stdout, stderr, nil)
}

// run is Run, telling listening (when not nil) the addresses it listens
// on before it starts serving, so tests can use port 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, listening func([]net.Addr)) error {
	cfg, err := config.Parse(args, getenv, stdout)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	if cfg.ShowVersion {
		_, err := fmt.Fprintln(stdout, "bss-api", buildinfo.Version())
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.NodeName == "" {
		if cfg.NodeName, err = os.Hostname(); err != nil {
			return fmt.Errorf("no --node-name given and the hostname is unknown: %w", err)
		}
	}
	// The memory limit first, so the heap is bounded from the start; and
	// the connection and body bounds that follow from it.
	res := settleResources(cfg, getenv, log)

	// The store's lock is taken first (it is cheap, and creates no more
	// than a lock file): a second server on the same data stops here, in
	// one line naming the first.
	lock, err := lockStore(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }() // until openStore takes it

	// Everything that can be wrong with the configuration is found before
	// anything else is opened or started.
	kc, err := connectKube(cfg, getenv, log)
	if err != nil {
		return usageError{err}
	}
	savedPods := &laterPods{}
	meta, err := newMetaSource(cfg, kc, savedPods, log)
	if err != nil {
		return usageError{err}
	}
	reg := prometheus.NewRegistry()
	now := time.Now
	schedTokens, err := newSchedulerTokens(cfg, now, log)
	if err != nil {
		return usageError{err}
	}
	guard, authComponents, err := newGuard(cfg, kc, reg, log, schedTokens)
	if err != nil {
		return usageError{err}
	}
	tlsFiles, err := newTLS(cfg, log)
	if err != nil {
		return usageError{err}
	}
	st, err := openStore(ctx, cfg, lock, now, log)
	lock = nil // the store's now, opened or not
	if err != nil {
		return err
	}
	defer closeStore(st, log)
	savedPods.PodStore = st.Pods()
	if err := useStoredSigningKey(ctx, cfg, schedTokens, st, log); err != nil {
		return err
	}
	recorder := metrics.NewRecorder(st.History(), now)
	if err := recorder.Prime(ctx); err != nil {
		return err
	}

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewCollector(recorder, cfg.NodeName, cfg.MetricsStaleness),
	)

	index := procs.New(procs.Options{
		ProcRoot:          cfg.ProcRoot,
		CgroupRoot:        cfg.CgroupRoot,
		ReconcileInterval: cfg.ReconcileInterval,
		PollInterval:      cfg.PollInterval,
		ProcessEvents:     cfg.ProcessEvents,
		EventPollInterval: cfg.EventPollInterval,
		Logger:            log.With("component", "procs"),
		Now:               now,
	})

	// Process events lost to a full socket buffer, each answered with a
	// full scan: a node whose count climbs forks faster than events are read.
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bss_process_event_overflows_total",
		Help: "Times the kernel dropped process events for a full socket buffer; each caused a full /proc scan.",
	}, func() float64 { return float64(index.EventOverflows()) }))

	view := podview.NewJoiner(podview.Options{Procs: index, Meta: meta, Debounce: 5 * time.Millisecond, MetaDebounce: 5 * time.Millisecond, Now: now})

	// The audit trail: strategy changes (recorded by the service) and
	// refused writes (by the HTTP layer), in the store, one log line each.
	trail := audit.NewTrail(audit.TrailOptions{
		Store: st.Audit(), Node: cfg.NodeName, Logger: log, Registry: reg, Now: now,
	})

	// What strategy inputs may cost: held to every write and preview, and
	// to the stored set the resolver loads (what breaks them is skipped).
	limits := strategyLimits(cfg)
	// Strategies are read from the store, or from the custom resources
	// (--strategy-source=kubernetes), which refuse writes.
	source, err := newStrategySource(cfg, kc, st, limits, log)
	if err != nil {
		return err
	}
	resolver := strategy.NewResolver(strategy.ResolverOptions{
		Store:    source.store,
		Views:    view,
		Watcher:  index,
		Changes:  source.changes,
		Node:     cfg.NodeName,
		Limits:   limits,
		Debounce: 5 * time.Millisecond,
		Logger:   log.With("component", "strategy"),
		Now:      now,
	})
	strategies := strategy.NewService(strategy.ServiceOptions{
		Store:       source.store,
		Resolver:    resolver,
		Limits:      limits,
		Resolutions: cfg.MaxConcurrentPreviews,
		Node:        cfg.NodeName,
		Shared:      source.shared,
		Admit:       index,
		Audit:       trail,
		Logger:      log.With("component", "strategy"),
		Now:         now,
	})

	gate := &health.Gate{}
	// Held blocking queries are answered as soon as shutdown starts
	// (srv.RegisterOnShutdown below), so Shutdown does not wait out their
	// waits.
	watchStop := make(chan struct{})
	handler := httpapi.New(httpapi.Config{
		Logger:     log,
		Registry:   reg,
		Metrics:    recorder,
		Gate:       gate,
		Pods:       view,
		Resolution: resolver,
		Strategies: strategies,
		Guard:      guard,
		Audit:      trail,

		SchedulerTokens: tokenIssuer(schedTokens),
		TokenLimits:     httpapi.TokenLimits{PerSecond: cfg.TokenRate, Burst: cfg.TokenBurst},
		Checks: append([]health.Check{
			metricsCheck(recorder, now, cfg.MetricsStaleness),
			{Name: "store", Critical: true, Probe: st.Health},
			{Name: "processes", Critical: true, Probe: func(ctx context.Context) health.Report {
				if r := index.Health(ctx); r.State != health.OK || view.View() != nil {
					return r
				}
				return health.Report{State: health.Down, Detail: "processes scanned; the pod view is being built"}
			}},
			resolutionCheck(resolver),
			{Name: "kubernetes", Probe: meta.Health},
			{Name: "strategies", Probe: resolver.Health},
		}, source.checks...),
		Version:          buildinfo.Version(),
		Node:             cfg.NodeName,
		Now:              now,
		CORSOrigins:      cfg.CORSOrigins,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		MaxHistoryWindow: cfg.HistoryRetention,
		AllowHost:        allowHost(cfg),
		WriteRate:        cfg.WriteRate,
		WriteBurst:       cfg.WriteBurst,
		Bodies:           httpapi.BodyLimits{MinRate: cfg.BodyMinRate, Timeout: cfg.ReadTimeout, InFlight: res.bodyBudget},
		MaxCachedBody:    res.cachedBody,
		Watch:            httpapi.WatchOptions{MaxWait: cfg.WatchMaxWait, WriteTimeout: cfg.WriteTimeout, Stopping: watchStop},
		PriorityFormat:   httpapi.PriorityFormat(cfg.PriorityFormat), // the same words as the flag's
	})
	// Connections: a cap on all of them and on each client's, with idle
	// ones closed to make room (ConnState tells the limiter which).
	conns := connlimit.New(connlimit.Options{
		Max: res.maxConns, PerClient: res.perClient, Logger: log.With("component", "connections"), Registry: reg,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:         conns.ConnState,
		// Requests must not be cancelled by the shutdown signal: in-flight
		// ones finish (Shutdown waits for them). A client that goes away
		// still cancels its own request.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(sync.OnceFunc(func() { close(watchStop) }))
	if tlsFiles != nil {
		srv.TLSConfig = tlsFiles.Config()
	}

	// Listen before starting anything, so a port clash fails at once.
	lns, err := listen(cfg, log)
	if err != nil {
		return err
	}
	addrs := make([]net.Addr, len(lns))
	for i, ln := range lns {
		lns[i] = conns.Listen(ln)
		addrs[i] = ln.Addr()
		log.Info("listening", "addr", ln.Addr().String(), "version", buildinfo.Version(), "node", cfg.NodeName)
	}
	if !cfg.HasCredentials() {
		log.Warn("no credential method is configured: serving loopback only, and every caller there may change strategies",
			"addrs", addrs)
		if len(cfg.CORSOrigins) > 0 {
			log.Warn("CORS origins are allowed with no credential method: pages of those origins can change strategies through a browser on this host",
				"origins", cfg.CORSOrigins)
		}
	}
	if listening != nil {
		listening(addrs)
	}

	err = runStages(ctx, log, []stage{
		// The store starts first and stops last: requests still in flight
		// during shutdown must be able to commit.
		{"storage", []component{{"store", st.Run}}},
		{"sources", append([]component{
			{"process index", index.Run},
			{"pod metadata (" + meta.Mode() + ")", meta.Run},
		}, slices.Concat(authComponents, source.run)...)},
		{"resolution", []component{
			{"pod view", view.Run},
			{"strategy resolver", resolver.Run},
		}},
		// Serving stops first: readiness turns 503, then in-flight
		// requests finish while everything below still runs.
		{"serving", []component{{"http server", func(ctx context.Context) error {
			return serve(ctx, srv, lns, gate, cfg.ShutdownTimeout, log)
		}}}},
	})
	log.Info("stopped")
	return err
}

// listen opens every configured address. A loopback address the system
// does not have (::1 without IPv6) is skipped when it came from the
// defaults, and only then.
func listen(cfg config.Config, log *slog.Logger) ([]net.Listener, error) {
	var lns []net.Listener
	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil && cfg.ListenDefaulted && len(cfg.Listen) > 1 && errors.Is(err, syscall.EADDRNOTAVAIL) {
			log.Warn("not listening on a default address this system does not have", "addr", addr, "err", err)
			continue
		}
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("listen: none of %v could be opened", cfg.Listen)
	}
	return lns, nil
}

// serve serves every listener until ctx is cancelled, then closes the
// readiness gate and shuts srv down gracefully within timeout.
func serve(ctx context.Context, srv *http.Server, lns []net.Listener, gate *health.Gate, timeout time.Duration, log *slog.Logger) error {
	served := make(chan error, len(lns))
	// Decided once, before any Serve: the first Serve configures HTTP/2,
	// which gives srv a TLSConfig of its own, and a second listener
	// reading it then would serve TLS without a certificate.
	useTLS := srv.TLSConfig != nil
	for _, ln := range lns {
		go func() {
			if useTLS {
				served <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
				return
			}
			served <- srv.Serve(ln)
		}()
	}
	gate.Set(true)
	select {
	case err := <-served: // Serve failed before any shutdown
		gate.Set(false)
		_ = srv.Close()
		for range len(lns) - 1 { // each other Serve returns once srv is closed
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				log.Warn("listener stopped", "err", serr)
			}
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	gate.Set(false)
	log.Info("shutting down", "timeout", timeout)
	// ctx is already cancelled; shutdown gets its own deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	for range lns {
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func metricsCheck(rec *metrics.Recorder, now func() time.Time, staleness time.Duration) health.Check {
	return health.Check{Name: "metrics", Probe: func(ctx context.Context) health.Report {
		last, ok, err := rec.Latest(ctx)
		switch {
		case err != nil:
			return health.Report{State: health.Degraded, Detail: err.Error()}
		case !ok:
			return health.Report{State: health.OK, Detail: "no metrics received yet"}
		}
		age := now().Sub(last.ReceivedAt).Round(time.Second)
		if age > staleness {
			return health.Report{State: health.Degraded, Detail: fmt.Sprintf("last push %s ago, older than %s", age, staleness)}
		}
		return health.Report{State: health.OK, Detail: fmt.Sprintf("last push %s ago", age)}
	}}
}
