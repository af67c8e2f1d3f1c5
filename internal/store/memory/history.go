// Package memory is the in-process store (--store=memory): metric history
// in a bounded ring, strategies in a slice, secrets in a map; fast, and
// lost on exit.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

// entry is a record without pointers: the ring is one pointer-free
// allocation that the garbage collector never has to scan.
type entry struct {
	at int64 // receive time, Unix nanoseconds
	s  metrics.Sample
}

// History keeps metric records in memory, bounded by count and by age, in a
// ring that never grows past the count bound. Safe for concurrent use.
type History struct {
	maxAge   time.Duration
	maxCount int
	now      func() time.Time

	mu    sync.RWMutex
	ring  []entry // grows by doubling up to maxCount, then wraps
	start int     // index of the oldest entry
	n     int     // live entries
}

var _ metrics.History = (*History)(nil)

// NewHistory returns a history keeping at most maxCount records no older than
// maxAge, as measured by now.
func NewHistory(maxCount int, maxAge time.Duration, now func() time.Time) *History {
	return &History{maxAge: maxAge, maxCount: maxCount, now: now}
}

// at returns the i-th oldest live entry.
func (h *History) at(i int) *entry { return &h.ring[(h.start+i)%len(h.ring)] }

// Append implements metrics.History. Records arriving slightly out of order
// (concurrent requests) are inserted in place.
func (h *History) Append(_ context.Context, recs []metrics.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		e := entry{at: r.ReceivedAt.UnixNano(), s: r.Sample}
		switch {
		case len(h.ring) < h.maxCount:
			// Still growing, never past the bound. The ring has not wrapped
			// yet: live entries are ring[start:]. Reuse dropped slots before
			// growing, so memory follows the live count.
			if len(h.ring) == cap(h.ring) && h.start > 0 {
				h.ring = h.ring[:copy(h.ring, h.ring[h.start:])]
				h.start = 0
			}
			if len(h.ring) == cap(h.ring) {
				grown := make([]entry, len(h.ring), min(max(2*cap(h.ring), 256), h.maxCount))
				copy(grown, h.ring)
				h.ring = grown
			}
			h.ring = append(h.ring, entry{})
			h.n++
		case h.n < len(h.ring):
			h.n++
		default: // full: drop the oldest
			h.start = (h.start + 1) % len(h.ring)
		}
		// Shift newer entries up by one; usually none are newer.
		i := h.n - 1
		for ; i > 0 && h.at(i-1).at > e.at; i-- {
			*h.at(i) = *h.at(i - 1)
		}
		*h.at(i) = e
	}
	h.dropOld()
	return nil
}

// dropOld forgets entries older than the age bound.
func (h *History) dropOld() {
	cutoff := h.now().Add(-h.maxAge).UnixNano()
	for h.n > 0 && h.at(0).at < cutoff {
		h.start = (h.start + 1) % len(h.ring)
		h.n--
	}
}

// search returns the logical index of the first entry at or after t.
func (h *History) search(t int64) int {
	return sort.Search(h.n, func(i int) bool { return h.at(i).at >= t })
}

// Range implements metrics.History.
func (h *History) Range(_ context.Context, q metrics.Query) ([]metrics.Record, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	since, until, _ := q.Bounds(h.now(), h.maxAge)
	lo, hi := h.search(since), h.search(until)
	if hi < lo {
		hi = lo
	}
	more := false
	if q.Limit > 0 && hi-lo > q.Limit {
		hi, more = lo+q.Limit, true
	}
	out := make([]metrics.Record, hi-lo)
	for i := range out {
		out[i] = h.at(lo + i).record()
	}
	return out, more, nil
}

// Summary implements metrics.History: it summarises the ring in place,
// under the read lock.
func (h *History) Summary(_ context.Context, from, to time.Time) (metrics.Summary, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	since, _, _ := metrics.Query{Since: from}.Bounds(h.now(), h.maxAge)
	z := metrics.NewSummarizer(from, to)
	for i, end := h.search(since), h.search(to.UnixNano()+1); i < end; i++ {
		e := h.at(i)
		z.Add(time.Unix(0, e.at).UTC(), &e.s)
	}
	return z.Summary(), nil
}

// Latest implements metrics.History.
func (h *History) Latest(_ context.Context) (metrics.Record, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.n == 0 {
		return metrics.Record{}, false, nil
	}
	return h.at(h.n - 1).record(), true, nil
}

// Len returns the number of records held.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n
}

func (e *entry) record() metrics.Record {
	return metrics.Record{ReceivedAt: time.Unix(0, e.at).UTC(), Sample: e.s}
}
