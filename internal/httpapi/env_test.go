package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// start is the fake clock's initial reading, the seed's example timestamp.
var start = time.Date(2025, 6, 19, 10, 30, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEnv is a server wired as internal/app wires it, over a fake clock.
type testEnv struct {
	cfg    Config
	clock  *fakeClock
	client *contract.Client
}

// newTestConfig returns a Config with a real recorder over an in-memory
// history, a fresh registry, an open gate, the fake clock, an audit trail
// in memory, and strategies (see useStrategies) resolved until the test
// ends.
func newTestConfig(t testing.TB, clock *fakeClock) Config {
	history := memory.NewHistory(100_000, 24*time.Hour, clock.Now)
	recorder := metrics.NewRecorder(history, clock.Now)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(recorder, "test-node", time.Minute))
	gate := &health.Gate{}
	gate.Set(true)
	trail := audit.NewTrail(audit.TrailOptions{Store: memory.NewAudit(audit.Retention{MaxAge: 24 * time.Hour, MaxCount: 1000}, clock.Now),
		Node: "test-node", Registry: reg, Now: clock.Now})
	cfg := Config{
		Logger:   slog.New(slog.DiscardHandler),
		Registry: reg,
		Metrics:  recorder,
		Pods:     newFakeIndex(fixtureSnapshot(1)),
		Gate:     gate,
		Audit:    trail,
		Checks: []health.Check{{Name: "store", Critical: true, Probe: func(context.Context) health.Report {
			return health.Report{State: health.OK, Detail: "memory"}
		}}},
		Version:          "v1.2.3",
		Node:             "test-node",
		Now:              clock.Now,
		CORSOrigins:      []string{"*"},
		MaxBodyBytes:     1 << 20,
		MaxHistoryWindow: 24 * time.Hour,
	}
	useStrategies(t, &cfg, strategySetup{})
	return cfg
}

// strategySetup says how useStrategies builds a config's strategies.
type strategySetup struct {
	shared bool               // the store counts as shared between nodes
	store  *memory.Strategies // default: an empty one
}

// useStrategies gives cfg strategies as internal/app wires them, over a
// memory store (o.store, else an empty one): a service that reports its
// changes to cfg.Audit, and a resolver over cfg.Pods that runs until the
// test ends, both on node cfg.Node.
func useStrategies(t testing.TB, cfg *Config, o strategySetup) {
	t.Helper()
	store := o.store
	if store == nil {
		store = &memory.Strategies{}
	}
	resolver := strategy.NewResolver(strategy.ResolverOptions{Store: store, Views: cfg.Pods.(strategy.ViewSource),
		Node: cfg.Node, Debounce: time.Millisecond, Now: cfg.Now})
	cfg.Resolution = resolver
	cfg.Strategies = strategy.NewService(strategy.ServiceOptions{Store: store, Resolver: resolver,
		Node: cfg.Node, Shared: o.shared, Audit: cfg.Audit.(strategy.Auditor), Now: cfg.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- resolver.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("resolver: %v", err)
		}
	})
}

// syncStrategies waits until cfg's resolver has resolved everything
// written so far.
func syncStrategies(t testing.TB, cfg Config) {
	t.Helper()
	if err := cfg.Resolution.(*strategy.Resolver).Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// newTestEnv starts an httptest server; edit, if not nil, adjusts the Config.
func newTestEnv(t *testing.T, v *contract.Validator, edit func(*Config)) *testEnv {
	t.Helper()
	clock := &fakeClock{now: start}
	cfg := newTestConfig(t, clock)
	if edit != nil {
		edit(&cfg)
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return &testEnv{cfg: cfg, clock: clock, client: contract.NewClient(v, srv.URL, srv.Client())}
}

// testRoutes returns the route table New builds from cfg.
func testRoutes(cfg Config) []route {
	return routeTable(cfg, responder{log: cfg.Logger}, newETags(), newWatcher(cfg.Watch, nil), &endpointList{})
}

func newValidator(t *testing.T) *contract.Validator {
	t.Helper()
	return contract.NewValidator(t, OpenAPIDocument())
}
