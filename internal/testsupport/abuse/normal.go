package abuse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Normal is a well-behaved client, a scheduler: it posts a sample and
// reads the resolved strategies in turn, one request at a time over
// keep-alive, from 127.0.0.1. Every sample it posts carries a unique
// nr_queued, so what was acknowledged can be looked for afterwards.
type Normal struct {
	url    string
	client *http.Client
	nextID uint64

	mu    sync.Mutex
	stats Stats
	acked []uint64 // nr_queued of every sample answered 200
}

// Stats is what a normal client saw.
type Stats struct {
	OK, Failed int
	Latencies  []time.Duration // of the answered requests
	FirstError string
}

// P returns the q-quantile (0.99: p99) of the answered requests' latency.
func (s Stats) P(q float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.Latencies)
	slices.Sort(l)
	return l[min(int(q*float64(len(l))), len(l)-1)]
}

// NewNormal returns a normal client of the server at url; its sample ids
// start at firstID.
func NewNormal(url string, firstID uint64) *Normal {
	return &Normal{url: url, nextID: firstID, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: false},
	}}
}

// Run sends requests, pause apart, until ctx is done.
func (n *Normal) Run(ctx context.Context, pause time.Duration) {
	defer n.client.CloseIdleConnections()
	for i := 0; ctx.Err() == nil; i++ {
		if i%2 == 0 {
			n.post(ctx)
		} else {
			n.get(ctx)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

func (n *Normal) post(ctx context.Context) {
	id := n.nextID
	n.nextID++
	body := fmt.Sprintf(`{"usersched_pid":1234,"nr_queued":%d,"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8}`, id)
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, n.url+"/api/v1/metrics", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	if n.do(req) {
		n.mu.Lock()
		n.acked = append(n.acked, id)
		n.mu.Unlock()
	}
}

func (n *Normal) get(ctx context.Context) {
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, n.url+"/api/v1/scheduling/strategies", nil)
	n.do(req)
}

// do sends req and records the outcome; a request is answered when it
// gets a 2xx. It does not give up when the run's context ends: a request
// in flight is answered or times out.
func (n *Normal) do(req *http.Request) bool {
	start := time.Now()
	resp, err := n.client.Do(req)
	took := time.Since(start)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			err = fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.stats.Failed++
		if n.stats.FirstError == "" {
			n.stats.FirstError = err.Error()
		}
		return false
	}
	n.stats.OK++
	n.stats.Latencies = append(n.stats.Latencies, took)
	return true
}

// Stats returns what the client saw so far.
func (n *Normal) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.Latencies = slices.Clone(s.Latencies)
	return s
}

// Acked returns the ids of the samples acknowledged so far.
func (n *Normal) Acked() []uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.acked)
}
