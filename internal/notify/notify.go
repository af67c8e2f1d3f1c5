// Package notify tells subscribers that something changed. Notifications
// coalesce: a subscriber that is slow to look sees one for many changes,
// which suits readers that reload the latest snapshot anyway.
package notify

import (
	"sync"
	"sync/atomic"
)

// Notifier counts changes and wakes subscribers. The zero value is ready
// to use; it is safe for concurrent use.
type Notifier struct {
	version atomic.Uint64
	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
}

// Version returns the number of changes so far.
func (n *Notifier) Version() uint64 { return n.version.Load() }

// Subscribe returns a channel that receives a value after changes, and a
// function that cancels the subscription.
func (n *Notifier) Subscribe() (<-chan struct{}, func()) {
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

// Changed moves the version and wakes every subscriber without blocking.
func (n *Notifier) Changed() {
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
