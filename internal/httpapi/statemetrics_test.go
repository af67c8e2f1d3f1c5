package httpapi

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/strategy"
)

// TestStateMetrics: /metrics reports readiness and each component's state
// as /readyz and /health do, and per strategy the PIDs it sets, 0 for one
// that matches nothing on this node.
func TestStateMetrics(t *testing.T) {
	store := &memory.Strategies{}
	if _, err := store.Replace(context.Background(), []strategy.Strategy{
		{Name: "app", ExecutionTime: 1000, PID: 800},
		{Name: "ghost", ExecutionTime: 1000, PID: 4242},
	}); err != nil {
		t.Fatal(err)
	}
	var kubeState atomic.Value
	kubeState.Store(health.OK)
	env := newTestEnv(t, newValidator(t), func(cfg *Config) {
		useStrategies(t, cfg, strategySetup{store: store})
		cfg.Checks = append(cfg.Checks, health.Check{Name: "kubernetes", Probe: func(context.Context) health.Report {
			return health.Report{State: kubeState.Load().(health.State)}
		}})
	})
	syncStrategies(t, env.cfg)
	scrape := func() string { return string(env.client.Get(t, "/metrics").Body) }
	want := []string{
		`bss_info{node="test-node",version="v1.2.3"} 1`,
		`bss_ready{node="test-node"} 1`,
		`bss_component_status{component="store",node="test-node",status="ok"} 1`,
		`bss_component_status{component="store",node="test-node",status="down"} 0`,
		`bss_component_status{component="kubernetes",node="test-node",status="ok"} 1`,
		`bss_strategies{node="test-node"} 2`,
		`bss_resolved_pids{node="test-node"} 1`,
		`bss_strategy_matched_pids{node="test-node",strategy="app"} 1`,
		`bss_strategy_matched_pids{node="test-node",strategy="ghost"} 0`,
	}
	m := scrape()
	for _, w := range want {
		if !strings.Contains(m, w+"\n") {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	// A non-critical component down: still ready. The gate closed: not ready.
	kubeState.Store(health.Down)
	env.cfg.Gate.Set(false)
	m = scrape()
	for _, w := range []string{
		`bss_component_status{component="kubernetes",node="test-node",status="down"} 1`,
		`bss_component_status{component="kubernetes",node="test-node",status="ok"} 0`,
		`bss_ready{node="test-node"} 0`,
	} {
		if !strings.Contains(m, w+"\n") {
			t.Errorf("/metrics lacks %s after the change", w)
		}
	}
}
