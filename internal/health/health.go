// Package health describes the state of the server's components for the
// /health, /healthz and /readyz endpoints.
package health

import (
	"context"
	"sync/atomic"
)

// State is the condition of one component.
type State string

// Component states, from best to worst.
const (
	OK       State = "ok"
	Disabled State = "disabled" // switched off by configuration; not a fault
	Degraded State = "degraded" // working with reduced function
	Down     State = "down"     // not working
)

// Report is what a component says about itself.
type Report struct {
	State  State  `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Check is one named component probe. Probe must be cheap, safe for
// concurrent use, and must not block beyond ctx.
type Check struct {
	Name string
	// Critical components make the server not ready while they are down.
	Critical bool
	Probe    func(ctx context.Context) Report
}

// Gate is the server-wide readiness switch: closed while starting and while
// shutting down, so load balancers stop sending traffic before listeners close.
// The zero value is not ready. Safe for concurrent use.
type Gate struct {
	ready atomic.Bool
}

// Set opens (true) or closes (false) the gate.
func (g *Gate) Set(ready bool) { g.ready.Store(ready) }

// Ready reports whether the gate is open.
func (g *Gate) Ready() bool { return g.ready.Load() }

// Result is the outcome of running every check.
type Result struct {
	Components map[string]Report
	// Healthy is false when any component is down.
	Healthy bool
	// Ready is false when the gate is closed or a critical component is down.
	Ready bool
}

// Evaluate runs every check and combines their reports.
func Evaluate(ctx context.Context, gate *Gate, checks []Check) Result {
	res := Result{Components: make(map[string]Report, len(checks)), Healthy: true, Ready: gate.Ready()}
	for _, c := range checks {
		rep := c.Probe(ctx)
		res.Components[c.Name] = rep
		if rep.State == Down {
			res.Healthy = false
			if c.Critical {
				res.Ready = false
			}
		}
	}
	return res
}
