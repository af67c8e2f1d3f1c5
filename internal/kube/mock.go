package kube

import (
	"context"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/notify"
)

// mockEntry is one pod of a mock file.
type mockEntry struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	// Containers maps container IDs to names; a container of the pod not
	// listed is taken as its sandbox, as with a real pod.
	Containers map[string]string `json:"containers"`
	ConfigHash string            `json:"configHash"`
}

// Mock is a Source for development without a cluster: pod metadata comes
// from a file keyed by pod UID, or, without a file, is made up from the UID
// of every pod found in cgroups (name mock-<first 8 of UID>, namespace
// mock, no labels).
type Mock struct {
	notify.Notifier
	file string
	pods map[string]PodMeta // nil: generate
}

var _ Source = (*Mock)(nil)

// NewMock reads file (YAML or JSON); an empty file name means generated
// metadata. The file is validated: names, namespaces and labels must be
// valid Kubernetes values.
func NewMock(file string) (*Mock, error) {
	m := &Mock{file: file}
	if file == "" {
		return m, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read mock pods: %w", err)
	}
	var entries map[string]mockEntry
	if err := yaml.UnmarshalStrict(b, &entries); err != nil {
		return nil, fmt.Errorf("parse mock pods %s: %w", file, err)
	}
	m.pods = make(map[string]PodMeta, len(entries))
	for uid, e := range entries {
		if errs := validation.IsDNS1123Subdomain(e.Name); len(errs) > 0 {
			return nil, fmt.Errorf("mock pods %s: pod %s: name %q: %s", file, uid, e.Name, errs[0])
		}
		if errs := validation.IsDNS1123Label(e.Namespace); len(errs) > 0 {
			return nil, fmt.Errorf("mock pods %s: pod %s: namespace %q: %s", file, uid, e.Namespace, errs[0])
		}
		for k, v := range e.Labels {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return nil, fmt.Errorf("mock pods %s: pod %s: label key %q: %s", file, uid, k, errs[0])
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("mock pods %s: pod %s: label %s value %q: %s", file, uid, k, v, errs[0])
			}
		}
		pm := PodMeta{UID: uid, Name: e.Name, Namespace: e.Namespace, Labels: e.Labels, ConfigHash: e.ConfigHash}
		if e.Containers != nil {
			pm.Containers = make(map[string]ContainerMeta, len(e.Containers))
			for id, name := range e.Containers {
				pm.Containers[TrimContainerID(id)] = ContainerMeta{Name: name, Kind: Regular}
			}
		}
		m.pods[uid] = pm
		if e.ConfigHash != "" {
			m.pods[e.ConfigHash] = pm
		}
	}
	return m, nil
}

// Run implements Source; mock metadata never changes.
func (m *Mock) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Lookup implements Source.
func (m *Mock) Lookup(uid string) (PodMeta, bool) {
	if m.pods != nil {
		p, ok := m.pods[uid]
		return p, ok
	}
	short := uid
	if len(short) > 8 {
		short = short[:8]
	}
	return PodMeta{UID: uid, Name: "mock-" + short, Namespace: "mock"}, true
}

// Health implements Source. Mock data is never healthy production data,
// so it reports degraded, loudly.
func (m *Mock) Health(context.Context) health.Report {
	if m.file == "" {
		return health.Report{State: health.Degraded, Detail: "mock: generated pod names, not a cluster (development only)"}
	}
	return health.Report{State: health.Degraded, Detail: fmt.Sprintf("mock: %d pods from %s, not a cluster (development only)", len(m.pods), m.file)}
}

// Mode implements Source.
func (m *Mock) Mode() string { return "mock" }

// Off is a Source with no metadata: pods show with empty names.
type Off struct{ notify.Notifier }

var _ Source = (*Off)(nil)

// Run implements Source.
func (*Off) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Lookup implements Source.
func (*Off) Lookup(string) (PodMeta, bool) { return PodMeta{}, false }

// Health implements Source.
func (*Off) Health(context.Context) health.Report {
	return health.Report{State: health.Disabled, Detail: "off: no pod metadata (--kube-mode=off)"}
}

// Mode implements Source.
func (*Off) Mode() string { return "off" }

// Pending implements Source: with no metadata there is nothing to wait for.
func (*Off) Pending() string { return "" }

// Pending implements Source: the file was read by NewMock.
func (*Mock) Pending() string { return "" }
