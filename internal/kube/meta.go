// Package kube supplies pod metadata for this node: names, namespaces,
// labels and container names, from a node-filtered pod informer on a real
// cluster, from a mock file for development, or not at all.
package kube

import (
	"context"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/bss-api/bss-api/internal/health"
)

// ConfigHashAnnotation is the kubelet's annotation on a static pod's mirror
// pod. Its value is the UID the kubelet uses in the static pod's cgroup.
const ConfigHashAnnotation = "kubernetes.io/config.hash"

// ContainerKind says which list of a pod's statuses a container is in.
type ContainerKind string

// Container kinds.
const (
	Regular   ContainerKind = "regular"
	Init      ContainerKind = "init"
	Ephemeral ContainerKind = "ephemeral"
)

// ContainerMeta is what the pod's status says about one container.
type ContainerMeta struct {
	Name string
	Kind ContainerKind
}

// PodMeta is the metadata of one pod. Values are immutable once published.
type PodMeta struct {
	UID       string
	Name      string
	Namespace string
	Labels    map[string]string
	// ConfigHash is set on mirror pods of static pods.
	ConfigHash string
	// Containers maps container IDs (without the runtime:// prefix) to
	// their names. A container of the pod whose ID is not here is its
	// sandbox, once the pod's statuses are known.
	Containers map[string]ContainerMeta
	// Deleted is true for a pod removed from the API server within the
	// last few minutes, kept so late lookups still resolve.
	Deleted bool
}

// Equal reports whether o says what m says: every field is compared; nil
// and empty maps are alike.
func (m PodMeta) Equal(o PodMeta) bool {
	return m.UID == o.UID && m.Name == o.Name && m.Namespace == o.Namespace &&
		m.ConfigHash == o.ConfigHash && m.Deleted == o.Deleted &&
		maps.Equal(m.Labels, o.Labels) && maps.Equal(m.Containers, o.Containers)
}

// Source looks pods of this node up by the UID found in their cgroups.
// Implementations are safe for concurrent use.
type Source interface {
	// Run keeps the metadata current until ctx is cancelled.
	Run(ctx context.Context) error
	// Lookup finds a pod by its UID or, for static pods, by its config hash.
	Lookup(uid string) (PodMeta, bool)
	// Version moves whenever any metadata changed.
	Version() uint64
	// Subscribe returns a channel that receives a value after changes
	// (coalesced), and a function that cancels the subscription.
	Subscribe() (<-chan struct{}, func())
	// Pending says why the source does not know this node's pods yet
	// (its first list is not done and nothing stands in for it), or is ""
	// once it does: lookups until then miss pods that exist, so nothing
	// may be resolved with them. Once "", it stays "".
	Pending() string
	// Health reports the source's state for /health.
	Health(ctx context.Context) health.Report
	// Mode names the source: in-cluster, kubeconfig, mock or off.
	Mode() string
}

// metaFromPod keeps what bss-api needs of a pod.
func metaFromPod(p *corev1.Pod) PodMeta {
	m := PodMeta{
		UID:        string(p.UID),
		Name:       p.Name,
		Namespace:  p.Namespace,
		Labels:     p.Labels,
		ConfigHash: p.Annotations[ConfigHashAnnotation],
		Containers: map[string]ContainerMeta{},
	}
	add := func(kind ContainerKind, statuses []corev1.ContainerStatus) {
		for _, s := range statuses {
			if id := TrimContainerID(s.ContainerID); id != "" {
				m.Containers[id] = ContainerMeta{Name: s.Name, Kind: kind}
			}
		}
	}
	add(Regular, p.Status.ContainerStatuses)
	add(Init, p.Status.InitContainerStatuses)
	add(Ephemeral, p.Status.EphemeralContainerStatuses)
	return m
}

// TrimContainerID strips the runtime prefix Kubernetes puts on container
// IDs: "containerd://<id>", "cri-o://<id>", "docker://<id>".
func TrimContainerID(id string) string {
	if _, rest, ok := strings.Cut(id, "://"); ok {
		return rest
	}
	return id
}
