package config

import (
	"flag"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Where strategies come from (--strategy-source).
const (
	// StrategySourceStore keeps them in the store, written through the
	// HTTP API.
	StrategySourceStore = "store"
	// StrategySourceKubernetes reads them from the SchedulingStrategy and
	// ClusterSchedulingStrategy custom resources (docs/crd.md); the
	// HTTP API's strategy writes are refused.
	StrategySourceKubernetes = "kubernetes"
)

// Source configures where strategies come from and, with custom
// resources, the Lease that elects the one server writing their status.
type Source struct {
	StrategySource string
	// StatusLeaseNamespace and StatusLeaseName name the Lease; the
	// namespace is the server's own (the chart sets it from the pod).
	StatusLeaseNamespace string
	StatusLeaseName      string
}

func defaultSource() Source {
	return Source{StrategySource: StrategySourceStore, StatusLeaseNamespace: "default", StatusLeaseName: "bss-api-strategy-status"}
}

func (s *Source) sourceFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.StrategySource, "strategy-source", s.StrategySource,
		"where strategies come from: store (written through the HTTP API) or kubernetes (SchedulingStrategy and ClusterSchedulingStrategy custom resources, written with kubectl; the HTTP API's strategy writes answer 409)")
	fs.StringVar(&s.StatusLeaseNamespace, "strategy-status-lease-namespace", s.StatusLeaseNamespace,
		"with --strategy-source=kubernetes: namespace of the Lease that elects the one server writing the custom resources' status (normally the server's own)")
	fs.StringVar(&s.StatusLeaseName, "strategy-status-lease-name", s.StatusLeaseName,
		"with --strategy-source=kubernetes: name of that Lease")
}

func (s Source) validateSource(kubeMode string) error {
	switch s.StrategySource {
	case StrategySourceStore:
		return nil
	case StrategySourceKubernetes:
	default:
		return fmt.Errorf("invalid --strategy-source %q: must be store or kubernetes", s.StrategySource)
	}
	if kubeMode == "off" || kubeMode == "mock" {
		return fmt.Errorf("--strategy-source=kubernetes needs a Kubernetes API server, not --kube-mode=%s", kubeMode)
	}
	if errs := validation.IsDNS1123Label(s.StatusLeaseNamespace); len(errs) > 0 {
		return fmt.Errorf("invalid --strategy-status-lease-namespace %q: %s", s.StatusLeaseNamespace, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(s.StatusLeaseName); len(errs) > 0 {
		return fmt.Errorf("invalid --strategy-status-lease-name %q: %s", s.StatusLeaseName, errs[0])
	}
	return nil
}
