// Package memory is the in-process store: fast, bounded, and lost on exit.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

// History keeps metric records in memory, bounded by count and by age.
// Safe for concurrent use.
type History struct {
	maxAge   time.Duration
	maxCount int
	now      func() time.Time

	mu   sync.RWMutex
	recs []metrics.Record // ordered by ReceivedAt; recs[head:] are live
	head int
}

var _ metrics.History = (*History)(nil)

// NewHistory returns a history keeping at most maxCount records no older than
// maxAge, as measured by now.
func NewHistory(maxCount int, maxAge time.Duration, now func() time.Time) *History {
	return &History{maxAge: maxAge, maxCount: maxCount, now: now}
}

// Append implements metrics.History. Records arriving slightly out of order
// (concurrent requests) are inserted in place.
func (h *History) Append(_ context.Context, recs []metrics.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		n := len(h.recs)
		if n == h.head || !r.ReceivedAt.Before(h.recs[n-1].ReceivedAt) {
			h.recs = append(h.recs, r)
			continue
		}
		i := h.head + sort.Search(n-h.head, func(i int) bool {
			return h.recs[h.head+i].ReceivedAt.After(r.ReceivedAt)
		})
		h.recs = append(h.recs, metrics.Record{})
		copy(h.recs[i+1:], h.recs[i:])
		h.recs[i] = r
	}
	h.trim()
	return nil
}

// trim drops records beyond the count and age limits. It compacts the
// backing array once half of it is dead, so appends stay amortised O(1).
func (h *History) trim() {
	if live := len(h.recs) - h.head; live > h.maxCount {
		h.head += live - h.maxCount
	}
	cutoff := h.now().Add(-h.maxAge)
	for h.head < len(h.recs) && h.recs[h.head].ReceivedAt.Before(cutoff) {
		h.head++
	}
	if h.head > 0 && h.head >= len(h.recs)/2 {
		n := copy(h.recs, h.recs[h.head:])
		clear(h.recs[n:])
		h.recs = h.recs[:n]
		h.head = 0
	}
}

// Range implements metrics.History.
func (h *History) Range(_ context.Context, q metrics.Query) ([]metrics.Record, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	live := h.recs[h.head:]
	cutoff := h.now().Add(-h.maxAge)
	if q.Since.Before(cutoff) {
		q.Since = cutoff
	}
	lo := sort.Search(len(live), func(i int) bool { return !live[i].ReceivedAt.Before(q.Since) })
	hi := len(live)
	if !q.Until.IsZero() {
		hi = sort.Search(len(live), func(i int) bool { return !live[i].ReceivedAt.Before(q.Until) })
	}
	if hi < lo {
		hi = lo
	}
	more := false
	if q.Limit > 0 && hi-lo > q.Limit {
		hi, more = lo+q.Limit, true
	}
	out := make([]metrics.Record, hi-lo)
	copy(out, live[lo:hi])
	return out, more, nil
}

// Latest implements metrics.History.
func (h *History) Latest(_ context.Context) (metrics.Record, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.recs) == h.head {
		return metrics.Record{}, false, nil
	}
	return h.recs[len(h.recs)-1], true, nil
}

// Len returns the number of records held.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.recs) - h.head
}
