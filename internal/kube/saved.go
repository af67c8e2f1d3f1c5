package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodStore keeps each node's last known pod metadata, so that a server
// started while the API server cannot be reached still knows its pods.
// Implementations (the store backends) are safe for concurrent use.
type PodStore interface {
	// SavePods replaces node's record with rec. rec.Data is not kept.
	SavePods(ctx context.Context, node string, rec SavedPods) error
	// LoadPods returns node's record; ok is false when there is none. The
	// returned Data is the caller's.
	LoadPods(ctx context.Context, node string) (rec SavedPods, ok bool, err error)
}

// SavedPods is one node's pod metadata as stored: Data is what
// EncodePods made, SavedAt when it was written.
type SavedPods struct {
	Data    []byte
	SavedAt time.Time
}

// savedFormat is the version of the stored form; a record of another
// version is not read (the informer writes a new one once it syncs).
const savedFormat = 1

type savedRecord struct {
	Format int        `json:"format"`
	Node   string     `json:"node"`
	Pods   []savedPod `json:"pods"`
}

type savedPod struct {
	UID        string            `json:"uid"`
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace"`
	Labels     map[string]string `json:"labels,omitempty"`
	ConfigHash string            `json:"config_hash,omitempty"`
	Containers []savedContainer  `json:"containers,omitempty"`
}

type savedContainer struct {
	ID   string        `json:"id"`
	Name string        `json:"name"`
	Kind ContainerKind `json:"kind"`
}

// EncodePods is the stored form of node's pods: what lookups need of each
// (UID, name, namespace, labels, config hash, container IDs and names),
// sorted, so the same pods always encode to the same bytes.
func EncodePods(node string, pods []PodMeta) ([]byte, error) {
	rec := savedRecord{Format: savedFormat, Node: node, Pods: make([]savedPod, 0, len(pods))}
	for _, m := range pods {
		p := savedPod{UID: m.UID, Name: m.Name, Namespace: m.Namespace, Labels: m.Labels, ConfigHash: m.ConfigHash}
		for _, id := range slices.Sorted(maps.Keys(m.Containers)) {
			c := m.Containers[id]
			p.Containers = append(p.Containers, savedContainer{ID: id, Name: c.Name, Kind: c.Kind})
		}
		rec.Pods = append(rec.Pods, p)
	}
	slices.SortFunc(rec.Pods, func(a, b savedPod) int { return strings.Compare(a.UID, b.UID) })
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode the pods of node %s: %w", node, err)
	}
	return data, nil
}

// DecodePods reads what EncodePods wrote.
func DecodePods(data []byte) (node string, pods []PodMeta, err error) {
	var rec savedRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", nil, fmt.Errorf("decode stored pod metadata: %w", err)
	}
	if rec.Format != savedFormat {
		return "", nil, fmt.Errorf("stored pod metadata is in format %d; this server reads format %d", rec.Format, savedFormat)
	}
	pods = make([]PodMeta, 0, len(rec.Pods))
	for _, p := range rec.Pods {
		m := PodMeta{UID: p.UID, Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, ConfigHash: p.ConfigHash,
			Containers: make(map[string]ContainerMeta, len(p.Containers))}
		for _, c := range p.Containers {
			m.Containers[c.ID] = ContainerMeta{Name: c.Name, Kind: c.Kind}
		}
		pods = append(pods, m)
	}
	return rec.Node, pods, nil
}

// savedView is a decoded record, indexed as the informer's cache is: by
// UID and by config hash. Immutable.
type savedView struct {
	at   time.Time
	pods map[string]PodMeta
	n    int
}

func newSavedView(at time.Time, pods []PodMeta) *savedView {
	v := &savedView{at: at, pods: make(map[string]PodMeta, len(pods)), n: len(pods)}
	for _, m := range pods {
		v.pods[m.UID] = m
		if m.ConfigHash != "" {
			v.pods[m.ConfigHash] = m
		}
	}
	return v
}

// podsOf keeps what lookups need of each pod in objs (informer cache
// entries).
func podsOf(objs []any) []PodMeta {
	out := make([]PodMeta, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, metaFromPod(p))
		}
	}
	return out
}
