package config

import (
	"flag"
	"fmt"
	"time"
)

// Readiness settles what the server waits for before it answers GET
// strategies: never a partial answer.
type Readiness struct {
	// KubeSyncTimeout is how long, at start, the server waits for the pod
	// informer's first list before it resolves with this node's pod
	// metadata persisted in the store (a failed list uses it at once).
	KubeSyncTimeout time.Duration
}

func defaultReadiness() Readiness {
	return Readiness{KubeSyncTimeout: 5 * time.Second}
}

func (r *Readiness) readinessFlags(fs *flag.FlagSet) {
	fs.DurationVar(&r.KubeSyncTimeout, "kube-sync-timeout", r.KubeSyncTimeout,
		"how long to wait at start for the API server to list this node's pods before resolving with the pod metadata persisted in the store (a failed list uses it at once; with none persisted, GET strategies answers 503 until the list)")
}

func (r Readiness) validateReadiness() error {
	if r.KubeSyncTimeout <= 0 {
		return fmt.Errorf("invalid --kube-sync-timeout %s: must be greater than zero", r.KubeSyncTimeout)
	}
	return nil
}
