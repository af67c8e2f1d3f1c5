package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is one GET strategies a polling client received.
type answer struct {
	status     int
	retryAfter string
	body       []byte
}

// strategiesPoller is a scheduler that polls GET strategies every 50 ms,
// through restarts: connection errors (the server is down) are skipped,
// every answer is kept.
type strategiesPoller struct {
	mu      sync.Mutex
	answers []answer
	stop    context.CancelFunc
	done    chan struct{}
}

func startPoller(t *testing.T, url string) *strategiesPoller {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &strategiesPoller{stop: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/scheduling/strategies", nil)
			resp, err := client.Do(req)
			if err != nil {
				continue // restarting
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.answers = append(p.answers, answer{resp.StatusCode, resp.Header.Get("Retry-After"), body})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { p.finish() })
	return p
}

// finish stops polling and returns every answer received.
func (p *strategiesPoller) finish() []answer {
	p.stop()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.answers)
}

// polledAnswer is what a scheduler reads of an answer, with the error of
// a 503.
type polledAnswer struct {
	Success    bool   `json:"success"`
	Error      string `json:"error"`
	Scheduling []struct {
		PID int `json:"pid"`
	} `json:"scheduling"`
}

// checkAnswers holds every answer to the contract: a 200 is complete (it
// has every PID of want, all still running), anything else is a 503 with
// success false and Retry-After, which every client takes as "keep your
// map". It returns the count of 200s and 503s.
func checkAnswers(t *testing.T, answers []answer, want []int) (ok, unavailable int) {
	t.Helper()
	for i, a := range answers {
		var v polledAnswer
		if err := json.Unmarshal(a.body, &v); err != nil {
			t.Errorf("answer %d (%d) does not decode: %v: %s", i, a.status, err, a.body)
			continue
		}
		switch a.status {
		case http.StatusOK:
			ok++
			got := map[int]bool{}
			for _, e := range v.Scheduling {
				got[e.PID] = true
			}
			var missing []int
			for _, pid := range want {
				if !got[pid] {
					missing = append(missing, pid)
				}
			}
			if !v.Success || v.Scheduling == nil || len(missing) > 0 {
				t.Errorf("answer %d: 200 lacks %d of the %d PIDs the selector won (missing %v): %s", i, len(missing), len(want), missing, a.body)
			}
		case http.StatusServiceUnavailable:
			unavailable++
			if v.Success || v.Scheduling != nil || a.retryAfter == "" || !strings.Contains(v.Error, "not resolved yet") {
				t.Errorf("answer %d: 503 with Retry-After %q: %s; want success false, no scheduling, Retry-After and why", i, a.retryAfter, a.body)
			}
		default:
			t.Errorf("answer %d: status %d: %s", i, a.status, a.body)
		}
	}
	return ok, unavailable
}

// waitAllPIDs waits until srv's GET strategies has every PID of want.
func waitAllPIDs(t *testing.T, srv *testServer, want []int, what string) {
	t.Helper()
	waitFor(t, 60*time.Second, what, func() bool {
		res := srv.API.Get(t, "/api/v1/scheduling/strategies")
		var v polledAnswer
		if res.StatusCode != http.StatusOK || json.Unmarshal(res.Body, &v) != nil {
			return false
		}
		got := map[int]bool{}
		for _, e := range v.Scheduling {
			got[e.PID] = true
		}
		for _, pid := range want {
			if !got[pid] {
				return false
			}
		}
		return true
	})
}

// TestRestartNeverPartial restarts the server, with a selector strategy
// that wins 20 PIDs of real processes in real cgroups, while a client
// polls GET strategies every 50 ms: with the API server up, with it
// stopped (lost under the running server first; then the pod metadata
// persisted in the store stands in), and with it stopped and nothing
// persisted. No 200 either way lacks a PID the
// selector won before the restart; until the server can resolve
// completely it answers 503.
func TestRestartNeverPartial(t *testing.T) {
	f := newKubeFixture(t)
	top := t // servers outlive the subtests that start them
	ns := f.namespace("bss-ready")
	var want []int
	for i := range 5 {
		p := f.pod(ns, fmt.Sprintf("upf-%d", i), f.node, map[string]string{"nf": "upf"}, "upf", "")
		want = append(want, p.procs[1].PID)
		for range 3 {
			w := f.progs.Start("upf-worker", 0)
			f.tree.Move(w.PID, "kubepods/burstable/pod"+p.uid+"/"+p.app)
			want = append(want, w.PID)
		}
	}
	addr := freeAddr(t)
	args := func(db string) []string {
		return []string{"--listen=" + addr, "--store=sqlite:" + db, "--kube-mode=kubeconfig", "--kubeconfig=" + f.cp.Kubeconfig,
			"--node-name=" + f.node, "--cgroup-root=" + f.tree.H.CgroupRoot}
	}
	const strategies = `{"strategies":[{"priority":true,"execution_time":20000000,"label_selector":{"matchLabels":{"nf":"upf"}}}]}`
	db := filepath.Join(t.TempDir(), "state.db")
	srv := startServer(t, nil, args(db)...)
	postStrategies(t, srv, strategies)
	waitAllPIDs(t, srv, want, "the selector to win every PID")

	poller := startPoller(t, "http://"+addr)
	t.Run("restart with the API server up", func(t *testing.T) {
		stopServer(t, srv)
		srv = launchServer(top, nil, nil, args(db)...)
		waitAllPIDs(t, srv, want, "every PID after the restart")
	})
	t.Run("restart with the API server stopped", func(t *testing.T) {
		// Lost under the running server first: the informer keeps what
		// it knew, so the poller keeps getting every PID.
		f.cp.StopAPIServer()
		waitFor(t, 60*time.Second, "the outage noticed", func() bool {
			return strings.Contains(healthOf(t, srv, "kubernetes"), "unreachable")
		})
		waitAllPIDs(t, srv, want, "every PID during the outage")
		stopServer(t, srv)
		srv = launchServer(top, nil, nil, args(db)...)
		waitAllPIDs(t, srv, want, "every PID from the persisted pod metadata")
		h := healthOf(t, srv, "kubernetes")
		if !strings.HasPrefix(h, "degraded:") || !strings.Contains(h, "persisted") || !strings.Contains(h, " ago") {
			t.Errorf("kubernetes health = %s; want degraded, resolving with the persisted pod metadata and its age", h)
		}
		if res := srv.API.Get(t, "/readyz"); res.StatusCode != http.StatusOK {
			t.Errorf("/readyz = %d while resolving with the persisted pod metadata", res.StatusCode)
		}
		// The live list replaces the record when the API server returns.
		f.cp.StartAPIServer()
		waitFor(t, 90*time.Second, "the informer to sync", func() bool {
			return strings.HasPrefix(healthOf(t, srv, "kubernetes"), "ok:")
		})
		waitAllPIDs(t, srv, want, "every PID from the live pod metadata")
	})
	ok, unavailable := checkAnswers(t, poller.finish(), want)
	t.Logf("through two restarts: %d complete answers, %d answered 503", ok, unavailable)
	if ok == 0 {
		t.Error("the poller received no 200")
	}

	t.Run("nothing persisted: 503 until the API server lists the pods", func(t *testing.T) {
		stopServer(t, srv)
		f.cp.StopAPIServer()
		fresh := filepath.Join(t.TempDir(), "fresh.db")
		poller := startPoller(top, "http://"+addr)
		srv = launchServer(top, nil, nil, args(fresh)...)
		postStrategies(t, srv, strategies) // taken, though not resolved yet
		waitFor(t, 30*time.Second, "the list to fail", func() bool {
			return strings.Contains(healthOf(t, srv, "resolution"), "cannot list the pods")
		})
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if res := srv.API.Get(t, "/readyz"); res.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("/readyz = %d with no pod metadata", res.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
		h := healthOf(t, srv, "resolution")
		if !strings.HasPrefix(h, "down:") || !strings.Contains(h, "pod metadata") || !strings.Contains(h, "no pod metadata of this node is persisted") {
			t.Errorf("resolution health = %s; want down, naming the missing pod metadata", h)
		}
		f.cp.StartAPIServer()
		waitAllPIDs(t, srv, want, "every PID once the API server lists the pods")
		ok, unavailable := checkAnswers(t, poller.finish(), want)
		t.Logf("with nothing persisted: %d answered 503 before the list, then %d complete answers", unavailable, ok)
		if unavailable == 0 {
			t.Error("the poller saw no 503 before the pods were listed")
		}
	})
}
