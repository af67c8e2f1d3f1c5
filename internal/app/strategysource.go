package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/crd"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/strategy"
)

// strategySource is where the resolver and the service read strategies:
// the store, or the custom resources (--strategy-source=kubernetes).
type strategySource struct {
	store   strategy.Store
	changes strategy.ChangeSource
	shared  bool // the store is shared between nodes (see ServiceOptions.Shared)
	// run and checks are the custom resources' informers and health;
	// empty with the store.
	run    []component
	checks []health.Check
}

// newStrategySource builds the configured source on kc (which must have
// a client for kubernetes) and st. It contacts no server.
func newStrategySource(cfg config.Config, kc kubeConnection, st store.Backend, limits strategy.Limits, log *slog.Logger) (strategySource, error) {
	if cfg.StrategySource != config.StrategySourceKubernetes {
		return strategySource{store: st.Strategies(), changes: st.Changes(), shared: st.Shared()}, nil
	}
	if kc.client == nil {
		return strategySource{}, usageError{errNoKubeForStrategies(kc.mode)}
	}
	dyn, err := kc.client.Dynamic()
	if err != nil {
		return strategySource{}, err
	}
	clog := log.With("component", "crd")
	src := crd.New(crd.Options{Client: dyn, Resync: cfg.KubeResync, Logger: clog})
	// One server per cluster writes the objects' status: the Lease holder.
	elector := crd.NewElector(crd.ElectorOptions{
		Client: dyn, Namespace: cfg.StatusLeaseNamespace, Name: cfg.StatusLeaseName, Identity: cfg.NodeName, Logger: clog,
	})
	status := crd.NewStatusWriter(crd.StatusOptions{Source: src, Client: dyn, Limits: limits, Logger: clog})
	log.Info("strategies from Kubernetes custom resources; strategy writes through the HTTP API are refused")
	return strategySource{
		store: src, changes: src,
		run: []component{
			{"strategy custom resources", src.Run},
			{"strategy status lease", func(ctx context.Context) error { return elector.Run(ctx, status.Lead) }},
		},
		checks: []health.Check{{Name: "strategy custom resources", Probe: src.Health}},
	}, nil
}

// errNoKubeForStrategies says why --strategy-source=kubernetes cannot
// work in kube mode mode (auto found no cluster, say).
func errNoKubeForStrategies(mode string) error {
	return fmt.Errorf("--strategy-source=kubernetes needs a Kubernetes API server, but the Kubernetes mode is %s", mode)
}
