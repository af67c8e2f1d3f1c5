package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// contractServer implements the agreed watch protocol of GET
// /api/v1/scheduling/strategies and GET /api/v1/pods/pids: 503 until it is
// ready, an ETag and X-BSS-Version on every answer, and with ?wait= and
// If-None-Match (or ?version=) the request is held until the version
// moves (200) or the wait ends (304).
type contractServer struct {
	mu       sync.Mutex
	notReady int // answers 503 to this many requests first
	version  uint64
	changed  chan struct{} // closed and replaced at every change
	requests []*http.Request
	// unchanged holds, by ETag, a channel closed at the first 304 with it.
	unchanged map[string]chan struct{}
}

func newContractServer(notReady int) *contractServer {
	return &contractServer{notReady: notReady, version: 1, changed: make(chan struct{}), unchanged: map[string]chan struct{}{}}
}

// notModified returns a channel closed once a request with etag has been
// answered 304.
func (s *contractServer) notModified(etag string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unchangedLocked(etag)
}

func (s *contractServer) unchangedLocked(etag string) chan struct{} {
	ch, ok := s.unchanged[etag]
	if !ok {
		ch = make(chan struct{})
		s.unchanged[etag] = ch
	}
	return ch
}

// bump publishes a new version.
func (s *contractServer) bump() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

func etagOf(v uint64) string { return fmt.Sprintf(`"start-%d"`, v) }

func (s *contractServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	if s.notReady > 0 {
		s.notReady--
		s.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		writeJSON(w, http.StatusServiceUnavailable, `{"success":false,"error":"not ready: first process scan not done"}`)
		return
	}
	v, changed := s.version, s.changed
	s.mu.Unlock()
	q := r.URL.Query()
	wait, err := time.ParseDuration(q.Get("wait"))
	if q.Has("wait") && err != nil {
		writeJSON(w, http.StatusBadRequest, `{"success":false,"error":"wait: not a duration"}`)
		return
	}
	inm := r.Header.Get("If-None-Match")
	since, hasVersion := uint64(0), q.Has("version")
	if hasVersion {
		if since, err = strconv.ParseUint(q.Get("version"), 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, `{"success":false,"error":"version: not an integer"}`)
			return
		}
	}
	same := func(v uint64) bool { return (inm != "" && inm == etagOf(v)) || (hasVersion && since == v) }
	if same(v) && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
		v = s.version
		s.mu.Unlock()
	}
	w.Header().Set("ETag", etagOf(v))
	w.Header().Set("X-BSS-Version", strconv.FormatUint(v, 10))
	if same(v) {
		w.WriteHeader(http.StatusNotModified)
		s.mu.Lock()
		ch := s.unchangedLocked(etagOf(v))
		select {
		case <-ch:
		default:
			close(ch)
		}
		s.mu.Unlock()
		return
	}
	if r.URL.Path == "/api/v1/pods/pids" {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"success":true,"version":%d,"pods":[{"pod_uid":"u","processes":[{"pid":%d}]}]}`, v, 100+v))
		return
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"success":true,"version":%d,"scheduling":[{"priority":%d,"execution_time":1000000,"pid":%d}]}`, v, v, 100+v))
}

func (s *contractServer) snapshot() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

var errStop = errors.New("stop")

func TestWatchStrategiesFollowsTheProtocol(t *testing.T) {
	srv := newContractServer(2)
	c := newTestClient(t, srv)
	var errs []error
	var got []uint64
	err := c.WatchStrategies(t.Context(), WatchOptions{Wait: 30 * time.Millisecond, MinInterval: time.Millisecond,
		OnError: func(err error) { errs = append(errs, err) }},
		func(s *Strategies) error {
			if len(s.Scheduling) != 1 || s.Scheduling[0].PID != int(100+s.Version) || s.Scheduling[0].Priority != Priority(s.Version) {
				t.Errorf("answer %d: %+v", s.Version, s.Scheduling)
			}
			if s.ETag != etagOf(s.Version) {
				t.Errorf("answer %d: ETag %q", s.Version, s.ETag)
			}
			got = append(got, s.Version)
			switch s.Version {
			case 1:
				go srv.bump() // a change while the watch waits
			case 2:
				// The next wait ends without a change (304), then one comes.
				go func() { <-srv.notModified(etagOf(2)); srv.bump() }()
			case 3:
				return errStop
			}
			return nil
		})
	if !errors.Is(err, errStop) {
		t.Fatalf("WatchStrategies = %v; want fn's error", err)
	}
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("answers %v; want [1 2 3], each once", got)
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrUnavailable) {
		t.Errorf("errors reported %v; want the two 503s", errs)
	}
	reqs := srv.snapshot()
	notModified := 0
	for i, r := range reqs[2:] { // after the two 503s
		inm, wait := r.Header.Get("If-None-Match"), r.URL.Query().Get("wait")
		if i == 0 {
			if inm != "" || wait != "" {
				t.Errorf("first request: If-None-Match %q, wait %q; want neither", inm, wait)
			}
			continue
		}
		if wait != "30ms" || inm == "" {
			t.Errorf("request %d: If-None-Match %q, wait %q; want the last ETag and 30ms", i, inm, wait)
		}
		if i > 1 && inm == etagOf(2) {
			notModified++
		}
	}
	if notModified < 2 {
		t.Errorf("%d requests waited on version 2; want at least 2 (one ended in 304)", notModified)
	}
}

func TestWatchPodPIDsWithVersionAndFilter(t *testing.T) {
	srv := newContractServer(0)
	c := newTestClient(t, srv)
	var got []int
	err := c.WatchPodPIDs(t.Context(), PodFilter{Namespace: "ran"}, WatchOptions{Wait: time.Second}, func(p *Pods) error {
		got = append(got, p.Pods[0].Processes[0].PID)
		if len(got) == 2 {
			return errStop
		}
		go srv.bump()
		return nil
	})
	if !errors.Is(err, errStop) || fmt.Sprint(got) != "[101 102]" {
		t.Fatalf("WatchPodPIDs = %v with %v; want [101 102]", err, got)
	}
	for _, r := range srv.snapshot() {
		if r.URL.Path != "/api/v1/pods/pids" || r.URL.Query().Get("namespace") != "ran" {
			t.Errorf("request %s", r.URL)
		}
	}
	// The single-request form with ?version= instead of an ETag.
	_, err = c.PodPIDs(t.Context(), PodFilter{}, SinceVersion(2), WithWait(10*time.Millisecond))
	if !errors.Is(err, ErrNotModified) {
		t.Errorf("PodPIDs since the current version = %v; want ErrNotModified", err)
	}
}

func TestWatchPacesAServerWithoutBlockingQueries(t *testing.T) {
	// This server ignores wait: a conditional request is answered 304 at
	// once, as servers before blocking queries do.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var at []time.Time
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		if len(at) == 5 {
			cancel()
		}
		mu.Unlock()
		w.Header().Set("ETag", `"same"`)
		if r.Header.Get("If-None-Match") == `"same"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeJSON(w, http.StatusOK, `{"success":true,"scheduling":[]}`)
	}))
	const minInterval = 40 * time.Millisecond
	calls := 0
	err := c.WatchStrategies(ctx, WatchOptions{MinInterval: minInterval}, func(*Strategies) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchStrategies = %v; want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times; want once (every later answer was a 304)", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 2; i < len(at); i++ { // between 304s
		if gap := at[i].Sub(at[i-1]); gap < minInterval/2 {
			t.Errorf("requests %d and %d %s apart; want about %s: the watch spins", i-1, i, gap, minInterval)
		}
	}
}
