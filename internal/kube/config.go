package kube

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Modes of --kube-mode.
const (
	ModeAuto       = "auto"
	ModeInCluster  = "in-cluster"
	ModeKubeconfig = "kubeconfig"
	ModeMock       = "mock"
	ModeOff        = "off"
)

// Settings are the Kubernetes flags of the server.
type Settings struct {
	Mode       string // auto, in-cluster, kubeconfig, mock or off
	Kubeconfig string // --kubeconfig, the seed's flag
	InCluster  bool   // --in-cluster=true, the seed's flag
	MockFile   string // --mock-pods: under auto, selects mock
	QPS        float32
	Burst      int
	UserAgent  string
}

// Resolve decides the mode. auto picks mock when a mock file is given,
// in-cluster when KUBERNETES_SERVICE_HOST is set, else a kubeconfig when
// one exists (--kubeconfig, $KUBECONFIG, ~/.kube/config), else mock. The
// seed's --kubeconfig and --in-cluster flags select their modes under auto.
// It returns the mode and, for kubeconfig, the files to load.
func (s Settings) Resolve(getenv func(string) string) (string, []string, error) {
	mode := s.Mode
	if mode == "" {
		mode = ModeAuto
	}
	kubeconfigs := s.kubeconfigPaths(getenv)
	if mode == ModeAuto {
		switch {
		case s.MockFile != "":
			mode = ModeMock
		case s.InCluster:
			mode = ModeInCluster
		case s.Kubeconfig != "":
			mode = ModeKubeconfig
		case getenv("KUBERNETES_SERVICE_HOST") != "":
			mode = ModeInCluster
		case anyExists(kubeconfigs):
			mode = ModeKubeconfig
		default:
			mode = ModeMock
		}
	}
	switch mode {
	case ModeInCluster, ModeMock, ModeOff:
		return mode, nil, nil
	case ModeKubeconfig:
		if !anyExists(kubeconfigs) {
			return "", nil, fmt.Errorf("--kube-mode=kubeconfig but no kubeconfig found (looked at %v); set --kubeconfig or KUBECONFIG", kubeconfigs)
		}
		return mode, kubeconfigs, nil
	}
	return "", nil, fmt.Errorf("invalid --kube-mode %q: must be auto, in-cluster, kubeconfig, mock or off", s.Mode)
}

func (s Settings) kubeconfigPaths(getenv func(string) string) []string {
	if s.Kubeconfig != "" {
		return []string{s.Kubeconfig}
	}
	if env := getenv("KUBECONFIG"); env != "" {
		return filepath.SplitList(env)
	}
	if home := getenv("HOME"); home != "" {
		return []string{filepath.Join(home, ".kube", "config")}
	}
	return nil
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// Client builds the client for an in-cluster or kubeconfig mode. It
// reads configuration but does not contact the API server.
func (s Settings) Client(mode string, kubeconfigs []string, getenv func(string) string) (*Client, error) {
	var cfg *rest.Config
	var err error
	switch mode {
	case ModeInCluster:
		cfg, err = inClusterConfig(getenv)
	case ModeKubeconfig:
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: kubeconfigs}
		if s.Kubeconfig != "" {
			rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: s.Kubeconfig}
		}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	default:
		return nil, fmt.Errorf("mode %s has no client", mode)
	}
	if err != nil {
		return nil, fmt.Errorf("%s configuration: %w", mode, err)
	}
	cfg.QPS, cfg.Burst = s.QPS, s.Burst
	cfg.UserAgent = s.UserAgent
	// Bound connecting; list calls carry their own server-side timeout and
	// watches are long-lived by design, so no overall request timeout.
	cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	client, err := newClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Kubernetes client: %w", err)
	}
	return client, nil
}

// inClusterConfig is rest.InClusterConfig with the environment read through
// getenv, so a misconfigured pod fails with a clear reason.
func inClusterConfig(getenv func(string) string) (*rest.Config, error) {
	if getenv("KUBERNETES_SERVICE_HOST") == "" || getenv("KUBERNETES_SERVICE_PORT") == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; not running in a pod (use --kube-mode=kubeconfig or mock)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	return cfg, nil
}
