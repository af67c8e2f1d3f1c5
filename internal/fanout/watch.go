package fanout

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// watchers follows every server's GET strategies with held requests and
// records when each first answers with the current change's value.
type watchers struct {
	round  atomic.Int64 // the change being measured
	mu     sync.Mutex
	start  []time.Time
	seen   [][]time.Duration // [change][server], 0 until seen
	left   []int             // per change, servers yet to see it
	notify chan struct{}     // a server saw a change
}

func newWatchers(servers, changes int) *watchers {
	w := &watchers{start: make([]time.Time, changes), seen: make([][]time.Duration, changes),
		left: make([]int, changes), notify: make(chan struct{}, 1)}
	for r := range changes {
		w.seen[r] = make([]time.Duration, servers)
		w.left[r] = servers
	}
	w.round.Store(-1)
	return w
}

func (w *watchers) setStart(r int, t time.Time) {
	w.mu.Lock()
	w.start[r] = t
	w.mu.Unlock()
}

// watch long-polls server i (?wait=30s with If-None-Match) until ctx ends.
func (w *watchers) watch(ctx context.Context, hc *http.Client, s *server, i int) {
	etag := ""
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(strategiesPath+"?wait=30s"), nil)
		if err != nil {
			return
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := hc.Do(req)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		at := time.Now()
		body, err := readBody(resp)
		if err != nil || resp.StatusCode != http.StatusOK {
			continue // 304 after the wait: ask again
		}
		etag = resp.Header.Get("ETag")
		if r := int(w.round.Load()); r >= 0 && strings.Contains(body, sliceMark(int64(baseSlice+1+r))) {
			w.saw(r, i, at)
		}
	}
}

func (w *watchers) saw(r, i int, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[r][i] != 0 {
		return
	}
	w.seen[r][i] = max(at.Sub(w.start[r]), time.Nanosecond)
	w.left[r]--
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// waitAll waits until every server has seen change r.
func (w *watchers) waitAll(ctx context.Context, r int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		left := w.left[r]
		w.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%d servers did not reflect it within %s", left, timeout)
		}
	}
}

// latencies returns, sorted, every server's latency per change from its
// start, and from the end of its write (update[r]).
func (w *watchers) latencies(update []time.Duration) (fromStart, afterWrite []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for r, row := range w.seen {
		for _, d := range row {
			fromStart = append(fromStart, d)
			if r < len(update) {
				afterWrite = append(afterWrite, d-update[r])
			}
		}
	}
	slices.Sort(fromStart)
	slices.Sort(afterWrite)
	return fromStart, afterWrite
}
