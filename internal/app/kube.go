package app

import (
	"log/slog"

	"k8s.io/klog/v2"

	"github.com/bss-api/bss-api/internal/buildinfo"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/kube"
)

// kubeConnection is the server's one connection to the Kubernetes API
// server: the pod informer and the token and access reviews share its
// client, so --kube-qps and --kube-burst bound everything the server asks.
type kubeConnection struct {
	mode        string
	kubeconfigs []string
	// client is nil in the mock and off modes.
	client *kube.Client
}

// connectKube resolves the Kubernetes mode and, for in-cluster and
// kubeconfig, builds the client. It reads configuration files but contacts
// no server.
func connectKube(cfg config.Config, getenv func(string) string, log *slog.Logger) (kubeConnection, error) {
	settings := kube.Settings{
		Mode:       cfg.KubeMode,
		Kubeconfig: cfg.Kubeconfig,
		InCluster:  cfg.InCluster,
		MockFile:   cfg.MockPods,
		QPS:        float32(cfg.KubeQPS),
		Burst:      cfg.KubeBurst,
		UserAgent:  "bss-api/" + buildinfo.Version() + " (node " + cfg.NodeName + ")",
	}
	mode, kubeconfigs, err := settings.Resolve(getenv)
	if err != nil {
		return kubeConnection{}, err
	}
	kc := kubeConnection{mode: mode, kubeconfigs: kubeconfigs}
	if mode == kube.ModeOff || mode == kube.ModeMock {
		return kc, nil
	}
	if kc.client, err = settings.Client(mode, kubeconfigs, getenv); err != nil {
		return kubeConnection{}, err
	}
	// client-go logs through klog, a process-wide logger: route it into
	// the server's structured log.
	klog.SetSlogLogger(log.With("component", "client-go"))
	return kc, nil
}

// newMetaSource builds the pod metadata source on kc. An informer keeps
// the node's pods in saved, which it first reads in its Run.
func newMetaSource(cfg config.Config, kc kubeConnection, saved kube.PodStore, log *slog.Logger) (kube.Source, error) {
	switch kc.mode {
	case kube.ModeOff:
		log.Info("pod metadata is off: pods show without names", "kube_mode", kc.mode)
		return &kube.Off{}, nil
	case kube.ModeMock:
		m, err := kube.NewMock(cfg.MockPods)
		if err != nil {
			return nil, err
		}
		log.Warn("MOCK POD METADATA: no Kubernetes cluster is used; pod names and labels are made up or read from a file. For development only.",
			"kube_mode", kc.mode, "mock_pods", cfg.MockPods)
		return m, nil
	}
	log.Info("pod metadata from the Kubernetes API server", "kube_mode", kc.mode, "node", cfg.NodeName, "kubeconfig", kc.kubeconfigs)
	return kube.NewInformer(kube.InformerOptions{
		Pods:        kc.client.Pods(),
		NodeName:    cfg.NodeName,
		Mode:        kc.mode,
		Resync:      cfg.KubeResync,
		DeletedTTL:  cfg.KubeDeletedTTL,
		Saved:       saved,
		SyncTimeout: cfg.KubeSyncTimeout,
		Logger:      log.With("component", "kube"),
	}), nil
}

// laterPods is the store's kube.PodStore, set once the store is open:
// the pod metadata source is built before, so that the configuration is
// checked before anything is opened, and reads it only from its Run.
type laterPods struct{ kube.PodStore }
