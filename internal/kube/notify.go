package kube

import (
	"sync"
	"sync/atomic"
)

// notifier counts changes and tells subscribers about them. The zero value
// is ready to use.
type notifier struct {
	version atomic.Uint64
	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
}

func (n *notifier) Version() uint64 { return n.version.Load() }

func (n *notifier) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[chan struct{}]struct{}{}
	}
	n.subs[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs, ch)
		n.mu.Unlock()
	}
}

// changed moves the version and wakes every subscriber.
func (n *notifier) changed() {
	n.version.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
