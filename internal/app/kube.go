package app

import (
	"log/slog"

	"k8s.io/klog/v2"

	"github.com/bss-api/bss-api/internal/buildinfo"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/kube"
)

// newMetaSource picks and builds the pod metadata source. It reads
// configuration files but contacts no server.
func newMetaSource(cfg config.Config, getenv func(string) string, log *slog.Logger) (kube.Source, error) {
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
		return nil, err
	}
	switch mode {
	case kube.ModeOff:
		log.Info("pod metadata is off: pods show without names", "kube_mode", mode)
		return &kube.Off{}, nil
	case kube.ModeMock:
		m, err := kube.NewMock(settings.MockFile)
		if err != nil {
			return nil, err
		}
		log.Warn("MOCK POD METADATA: no Kubernetes cluster is used; pod names and labels are made up or read from a file. For development only.",
			"kube_mode", mode, "mock_pods", cfg.MockPods)
		return m, nil
	}
	client, err := settings.Client(mode, kubeconfigs, getenv)
	if err != nil {
		return nil, err
	}
	// client-go logs through klog, a process-wide logger: route it into
	// the server's structured log.
	klog.SetSlogLogger(log.With("component", "client-go"))
	log.Info("pod metadata from the Kubernetes API server", "kube_mode", mode, "node", cfg.NodeName, "kubeconfig", kubeconfigs)
	return kube.NewInformer(kube.InformerOptions{
		Client:     client,
		NodeName:   cfg.NodeName,
		Mode:       mode,
		Resync:     cfg.KubeResync,
		DeletedTTL: cfg.KubeDeletedTTL,
		Logger:     log.With("component", "kube"),
	}), nil
}
