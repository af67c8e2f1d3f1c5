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
	next    chan struct{} // closed by the next Changed; nil until Next asks
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

// Next returns a channel that is closed by the next Changed. Unlike
// Subscribe it costs nothing to stop waiting on, and any number of waiters
// share one channel, so it suits many short-lived waiters (blocking HTTP
// queries). Call Next before reading the state it guards, so that a change
// made in between is not missed.
func (n *Notifier) Next() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.next == nil {
		n.next = make(chan struct{})
	}
	return n.next
}

// Changed moves the version and wakes every subscriber without blocking,
// and every waiter on Next.
func (n *Notifier) Changed() {
	n.version.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.next != nil {
		close(n.next)
		n.next = nil
	}
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
