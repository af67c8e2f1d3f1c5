package httpapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/health"
)

// probeTimeout bounds the health probes one scrape runs.
const probeTimeout = 2 * time.Second

// componentStates are the values of bss_component_status's status label.
var componentStates = [...]health.State{health.OK, health.Disabled, health.Degraded, health.Down}

// stateCollector exports, at each scrape, what /readyz and /health say and
// what the current resolution matched, so alerts need no HTTP probe:
//
//   - bss_info{node,version} 1, to join node-less series to their node;
//   - bss_ready{node} 1 when /readyz answers 200, else 0;
//   - bss_component_status{node,component,status} 1 for each component's
//     current state and 0 for its other states;
//   - bss_strategies{node}, bss_resolved_pids{node} and
//     bss_strategy_matched_pids{node,strategy}: the strategies in force, the
//     PIDs given an entry, and per strategy the PIDs whose entry it sets
//     (absent before the first resolution).
type stateCollector struct {
	gate       *health.Gate
	checks     []health.Check
	resolution Resolution // may be nil

	info, ready, component, strategies, resolved, matched *prometheus.Desc
}

var _ prometheus.Collector = (*stateCollector)(nil)

func newStateCollector(cfg Config) *stateCollector {
	node := prometheus.Labels{"node": cfg.Node}
	return &stateCollector{
		gate:       cfg.Gate,
		checks:     cfg.Checks,
		resolution: cfg.Resolution,
		info: prometheus.NewDesc("bss_info", "Always 1; labels name the node and the server's version.",
			nil, prometheus.Labels{"node": cfg.Node, "version": cfg.Version}),
		ready: prometheus.NewDesc("bss_ready",
			"1 when the server is ready (GET /readyz answers 200), else 0.", nil, node),
		component: prometheus.NewDesc("bss_component_status",
			"1 for a component's current state in /health (ok, disabled, degraded, down), 0 for its other states.",
			[]string{"component", "status"}, node),
		strategies: prometheus.NewDesc("bss_strategies",
			"Strategies in force in the current resolution.", nil, node),
		resolved: prometheus.NewDesc("bss_resolved_pids",
			"PIDs given an entry by the current resolution.", nil, node),
		matched: prometheus.NewDesc("bss_strategy_matched_pids",
			"PIDs whose entry the strategy sets in the current resolution (0: it matches nothing here, or only PIDs an earlier strategy takes).",
			[]string{"strategy"}, node),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.ready, c.component, c.strategies, c.resolved, c.matched} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	gate := c.gate
	if gate == nil {
		gate = &health.Gate{}
	}
	res := health.Evaluate(ctx, gate, c.checks)
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolValue(res.Ready))
	for name, rep := range res.Components {
		for _, st := range componentStates {
			ch <- prometheus.MustNewConstMetric(c.component, prometheus.GaugeValue, boolValue(rep.State == st), name, string(st))
		}
	}
	if c.resolution == nil {
		return
	}
	snap := c.resolution.Snapshot()
	if snap == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.strategies, prometheus.GaugeValue, float64(len(snap.Strategies)))
	ch <- prometheus.MustNewConstMetric(c.resolved, prometheus.GaugeValue, float64(len(snap.Entries)))
	// Names are unique within a source; summing keeps /metrics valid
	// should two sources ever resolve strategies of the same name.
	won := make(map[string]int, len(snap.Strategies))
	for i, s := range snap.Strategies {
		if i < len(snap.Won) {
			won[s.Name] += snap.Won[i]
		}
	}
	for name, n := range won {
		ch <- prometheus.MustNewConstMetric(c.matched, prometheus.GaugeValue, float64(n), name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
