package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
)

// Audit is an audit.Store in process memory: one list per outcome, each
// ordered by time, so that retention by count per outcome drops from the
// front. Bounded by keep: count on append, age on append and on read.
// Safe for concurrent use; records it returns are copies.
type Audit struct {
	keep audit.Retention
	now  func() time.Time

	mu    sync.RWMutex
	lists map[audit.Outcome][]audit.Record
}

var _ audit.Store = (*Audit)(nil)

// NewAudit returns an empty audit trail bounded by keep, with age measured
// by now.
func NewAudit(keep audit.Retention, now func() time.Time) *Audit {
	return &Audit{keep: keep, now: now, lists: map[audit.Outcome][]audit.Record{}}
}

// taken reports whether a record has time at.
func (a *Audit) taken(at time.Time) bool {
	for _, list := range a.lists {
		i := search(list, at)
		if i < len(list) && list[i].At.Equal(at) {
			return true
		}
	}
	return false
}

// search returns the index of the first record of list at or after t.
func search(list []audit.Record, t time.Time) int {
	return sort.Search(len(list), func(i int) bool { return !list[i].At.Before(t) })
}

// Append implements audit.Store.
func (a *Audit) Append(_ context.Context, rec audit.Record) (time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec = rec.Clone()
	rec.At = rec.At.UTC()
	for a.taken(rec.At) {
		rec.At = rec.At.Add(time.Nanosecond)
	}
	list := a.lists[rec.Outcome]
	i := search(list, rec.At)
	list = append(list, audit.Record{})
	copy(list[i+1:], list[i:])
	list[i] = rec
	if n := a.keep.MaxCount; n > 0 && len(list) > n {
		list = dropFront(list, len(list)-n)
	}
	a.lists[rec.Outcome] = list
	a.dropOld()
	return rec.At, nil
}

// dropFront drops the first n records, releasing what they hold.
func dropFront(list []audit.Record, n int) []audit.Record {
	clear(list[:n])
	return list[n:]
}

// cutoff is the time before which records are past retention.
func (a *Audit) cutoff() time.Time {
	if a.keep.MaxAge <= 0 {
		return time.Time{}
	}
	return a.now().Add(-a.keep.MaxAge)
}

func (a *Audit) dropOld() {
	cutoff := a.cutoff()
	for o, list := range a.lists {
		a.lists[o] = dropFront(list, search(list, cutoff))
	}
}

// Range implements audit.Store: it merges the outcomes' lists in time
// order.
func (a *Audit) Range(_ context.Context, q audit.Query) ([]audit.Record, bool, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	since, until, fetch := q.Bounds(a.now(), a.keep.MaxAge)
	var parts [][]audit.Record
	for _, list := range a.lists {
		lo := search(list, time.Unix(0, since))
		hi := max(search(list, time.Unix(0, until)), lo)
		parts = append(parts, list[lo:hi])
	}
	out := []audit.Record{}
	for fetch < 0 || len(out) < fetch {
		next := -1
		for i, p := range parts {
			if len(p) > 0 && (next < 0 || p[0].At.Before(parts[next][0].At)) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		out = append(out, parts[next][0].Clone())
		parts[next] = parts[next][1:]
	}
	out, more := q.Page(out)
	return out, more, nil
}
