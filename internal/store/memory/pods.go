package memory

import (
	"bytes"
	"context"
	"sync"

	"github.com/bss-api/bss-api/internal/kube"
)

// pods holds each node's last known pod metadata in process memory:
// lost on exit, so it only ever stands in within one process. The zero
// value is empty and ready to use. Safe for concurrent use.
type pods struct {
	mu    sync.Mutex
	nodes map[string]kube.SavedPods
}

// SavePods implements kube.PodStore.
func (p *pods) SavePods(_ context.Context, node string, rec kube.SavedPods) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nodes == nil {
		p.nodes = map[string]kube.SavedPods{}
	}
	p.nodes[node] = kube.SavedPods{Data: bytes.Clone(rec.Data), SavedAt: rec.SavedAt}
	return nil
}

// LoadPods implements kube.PodStore.
func (p *pods) LoadPods(_ context.Context, node string) (kube.SavedPods, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec, ok := p.nodes[node]
	rec.Data = bytes.Clone(rec.Data)
	return rec, ok, nil
}

// Pods returns each node's last known pod metadata.
func (s *Store) Pods() kube.PodStore { return &s.pods }
