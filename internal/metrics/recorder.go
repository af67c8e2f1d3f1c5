package metrics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// History stores metric records. Implementations must be safe for concurrent
// use, keep records ordered by ReceivedAt, and must not retain or modify the
// slices passed to Append. Slices they return belong to the caller.
type History interface {
	// Append stores recs, all or none. It returns only after they are
	// stored. If ctx ends first it returns ctx's error, and the records
	// may still be stored.
	Append(ctx context.Context, recs []Record) error
	// Range returns up to q.Limit records with Since <= ReceivedAt < Until,
	// oldest first, and whether more records matched than were returned.
	Range(ctx context.Context, q Query) (recs []Record, more bool, err error)
	// Latest returns the newest record; ok is false when there is none.
	Latest(ctx context.Context) (rec Record, ok bool, err error)
	// Summary summarises the records with from <= ReceivedAt <= to (those
	// within retention) as Summarize does, answering exactly what
	// Summarize of those records returns, without holding them all in
	// memory at once.
	Summary(ctx context.Context, from, to time.Time) (Summary, error)
}

// Query selects records from a History. A zero Since or Until is unbounded.
type Query struct {
	Since time.Time
	Until time.Time
	Limit int
}

// Bounds gives a store what to fetch for q, as Unix nanoseconds: records
// with since <= ReceivedAt < until, where since is no earlier than
// now-maxAge (older records are past retention) and until is unbounded
// when q.Until is zero; at most fetch of them, which is one more than
// q.Limit so Page can tell whether there are more, or -1 for all.
func (q Query) Bounds(now time.Time, maxAge time.Duration) (since, until int64, fetch int) {
	from := now.Add(-maxAge)
	if q.Since.After(from) {
		from = q.Since
	}
	until = math.MaxInt64
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	fetch = -1
	if q.Limit > 0 {
		fetch = q.Limit + 1
	}
	return from.UnixNano(), until, fetch
}

// Page cuts records fetched with Bounds to q.Limit and reports whether
// there were more.
func (q Query) Page(recs []Record) ([]Record, bool) {
	if q.Limit > 0 && len(recs) > q.Limit {
		return recs[:q.Limit], true
	}
	return recs, false
}

// Recorder accepts decoded samples, stamps them with a receive time and
// stores them. Receive times are strictly increasing, so every record has a
// unique time that can be used as a pagination cursor. Safe for concurrent use.
type Recorder struct {
	history History
	now     func() time.Time

	mu   sync.Mutex
	last time.Time // newest receive time handed out

	latest   atomic.Pointer[Record]
	received atomic.Uint64 // samples stored since start
	ignored  atomic.Uint64 // unknown fields seen since start
}

// NewRecorder returns a Recorder that stores into h and reads time from now.
func NewRecorder(h History, now func() time.Time) *Recorder {
	return &Recorder{history: h, now: now}
}

// Record stores the samples of b and returns their receive time (the time
// of the first one; a batch gets consecutive nanoseconds).
func (r *Recorder) Record(ctx context.Context, b Batch) (time.Time, error) {
	recs := make([]Record, len(b.Samples))
	r.mu.Lock()
	t := r.now().UTC()
	if !t.After(r.last) {
		t = r.last.Add(time.Nanosecond)
	}
	first := t
	for i := range recs {
		recs[i] = Record{ReceivedAt: t, Sample: b.Samples[i]}
		t = t.Add(time.Nanosecond)
	}
	r.last = t.Add(-time.Nanosecond)
	r.mu.Unlock()

	if err := r.history.Append(ctx, recs); err != nil {
		return time.Time{}, fmt.Errorf("store %d samples: %w", len(recs), err)
	}
	r.publish(recs[len(recs)-1])
	r.received.Add(uint64(len(recs)))
	r.ignored.Add(uint64(b.IgnoredCount))
	return first, nil
}

// Prime continues receive times after the newest stored record, so
// times stay unique across restarts even if the clock went back, and
// keeps that record as the latest, so health probes, scrapes and GETs
// of the latest sample do not query the store until the next POST.
func (r *Recorder) Prime(ctx context.Context) error {
	rec, ok, err := r.history.Latest(ctx)
	if err != nil {
		return fmt.Errorf("read the latest stored sample: %w", err)
	}
	if ok {
		r.mu.Lock()
		if rec.ReceivedAt.After(r.last) {
			r.last = rec.ReceivedAt
		}
		r.mu.Unlock()
		r.publish(rec)
	}
	return nil
}

// publish makes rec the latest record unless a newer one is already there.
func (r *Recorder) publish(rec Record) {
	for {
		cur := r.latest.Load()
		if cur != nil && !rec.ReceivedAt.After(cur.ReceivedAt) {
			return
		}
		if r.latest.CompareAndSwap(cur, &rec) {
			return
		}
	}
}

// Latest returns the newest record, from memory when this process has
// received one, else from the history.
func (r *Recorder) Latest(ctx context.Context) (Record, bool, error) {
	if rec := r.latest.Load(); rec != nil {
		return *rec, true, nil
	}
	rec, ok, err := r.history.Latest(ctx)
	if err != nil {
		return Record{}, false, fmt.Errorf("read latest sample: %w", err)
	}
	return rec, ok, nil
}

// Range returns stored records; see History.Range.
func (r *Recorder) Range(ctx context.Context, q Query) ([]Record, bool, error) {
	recs, more, err := r.history.Range(ctx, q)
	if err != nil {
		return nil, false, fmt.Errorf("read history: %w", err)
	}
	return recs, more, nil
}

// Summary summarises the records received in the window ending now.
func (r *Recorder) Summary(ctx context.Context, window time.Duration) (Summary, error) {
	to := r.now().UTC()
	s, err := r.history.Summary(ctx, to.Add(-window), to)
	if err != nil {
		return Summary{}, fmt.Errorf("summarise history: %w", err)
	}
	return s, nil
}

// Stats are counts since the process started.
type Stats struct {
	Received uint64 // samples stored
	Ignored  uint64 // unknown fields seen
}

// Stats returns counts since the process started.
func (r *Recorder) Stats() Stats {
	return Stats{Received: r.received.Load(), Ignored: r.ignored.Load()}
}
