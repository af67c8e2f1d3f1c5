package app

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// stopServer stops srv and waits for Run to return.
func stopServer(t *testing.T, srv *testServer) {
	t.Helper()
	srv.stop()
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
		srv.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

// TestRestartKeepsState stops the server and starts it again on the same
// SQLite file: the same strategies, the same resolution for the same
// processes, and the metric history are all still there. It talks to the
// server through the public client package, as a scheduler and an
// operator tool would.
func TestRestartKeepsState(t *testing.T) {
	db := "--store=sqlite:" + filepath.Join(t.TempDir(), "state.db")
	fixture := "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
	args := []string{db, fixture, "--cgroup-root=" + t.TempDir(), "--kube-mode=off"}
	ctx := t.Context()

	srv := startServer(t, nil, args...)
	c := srv.client(t)
	if _, err := c.ReplaceStrategies(ctx, []client.Strategy{
		{Priority: 1, ExecutionTime: 20_000_000, CommandRegex: "^loki$"},
		{Priority: 0, ExecutionTime: 10_000_000, PID: 717720},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostMetrics(ctx, seedSample); err != nil {
		t.Fatal(err)
	}
	before, err := c.Strategies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defsBefore, err := c.Definitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(before.Scheduling, func(e client.SchedulingEntry) bool { return e.PID == 718001 }) {
		t.Fatalf("before restart: %+v", before.Scheduling)
	}
	stopServer(t, srv)

	srv = startServer(t, nil, args...)
	c = srv.client(t)
	poll(t, 10*time.Second, "the same resolution after the restart", func() ([]client.SchedulingEntry, bool) {
		s, err := c.Strategies(ctx)
		if err != nil {
			return nil, false
		}
		return s.Scheduling, slices.Equal(s.Scheduling, before.Scheduling)
	})
	defsAfter, err := c.Definitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(defsAfter.Strategies, defsBefore.Strategies) {
		t.Errorf("definitions after restart:\n%+v\nwant\n%+v", defsAfter.Strategies, defsBefore.Strategies)
	}
	hist, err := c.MetricsHistory(ctx, client.HistoryQuery{})
	if err != nil || hist.Count != 1 || hist.Samples[0].Metrics != seedSample {
		t.Errorf("history after restart: %+v, %v; want the one seed sample", hist, err)
	}
	if _, err := c.LatestMetrics(ctx); err != nil {
		t.Errorf("latest after restart: %v", err)
	}
}

// stripVolatile removes the fields that differ between two answers with
// the same content: timestamps, and the snapshot version, which counts
// changes within one process.
func stripVolatile(s string) string {
	for _, key := range []string{`"timestamp":"`, `"resolved_at":"`, `"version":`} {
		for {
			i := strings.Index(s, key)
			if i < 0 {
				break
			}
			end := strings.IndexAny(s[i+len(key):], `",}`)
			if key != `"version":` {
				end++ // past the closing quote
			}
			s = s[:i] + s[i+len(key)+end:]
		}
	}
	return s
}

// TestTwoServersSharePostgres runs two servers (two nodes) on one real
// PostgreSQL: a strategy written through one is served by the other within
// 2 s, and each keeps its own metric history.
func TestTwoServersSharePostgres(t *testing.T) {
	dsn := testenv.StartPostgres(t)
	fixture := "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
	common := []string{"--store=" + dsn, fixture, "--cgroup-root=" + t.TempDir(), "--kube-mode=off"}
	a := startServer(t, nil, append(common, "--node-name=node-a")...)
	b := startServer(t, nil, append(common, "--node-name=node-b")...)

	if code, body := postJSON(t, a.URL+"/api/v1/metrics", `{"nr_queued": 111}`); code != http.StatusOK {
		t.Fatalf("POST metrics to a = %d %s", code, body)
	}
	written := time.Now()
	req := a.API.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/loki", "application/json",
		[]byte(`{"priority":true,"execution_time":7000000,"command_regex":"^loki$"}`))
	if res := a.API.Do(t, req); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT through a = %d %s", res.StatusCode, res.Body)
	}
	v := poll(t, 10*time.Second, "node b to serve the strategy written through node a", func() (verboseView, bool) {
		_, v := winners(t, b)
		return v, len(v.Scheduling) == 1 && v.Scheduling[0].PID == 718001 && v.Scheduling[0].ExecutionTime == 7000000
	})
	logLag(t, "a strategy written through another node", v.ResolvedAt, written)

	// A PID means something on one node only: a pid strategy written
	// through node a without nodes is stamped with node a, and node b,
	// where PID 717720 runs too (the same fixture), does not apply it.
	res := a.API.Post(t, "/api/v1/scheduling/strategies", "application/json",
		[]byte(`{"strategies":[{"name":"pause","execution_time":3000000,"pid":717720}]}`))
	var saved struct {
		Stamped []struct {
			Strategy string
			Nodes    []string
		}
	}
	if err := json.Unmarshal(res.Body, &saved); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST a pid strategy through a = %d %s", res.StatusCode, res.Body)
	}
	if len(saved.Stamped) != 1 || saved.Stamped[0].Strategy != "pause" || !slices.Equal(saved.Stamped[0].Nodes, []string{"node-a"}) {
		t.Errorf("stamped = %+v, want pause on node-a", saved.Stamped)
	}
	poll(t, 10*time.Second, "node a to apply the pid strategy", func() ([]string, bool) {
		got, _ := winners(t, a)
		return got, slices.Equal(got, []string{"717720=pause"})
	})
	poll(t, 10*time.Second, "node b to drop the loki strategy and not apply the pid one", func() ([]string, bool) {
		got, _ := winners(t, b)
		return got, len(got) == 0
	})

	hist := string(b.API.Get(t, "/api/v1/metrics/history").Body)
	if !strings.Contains(hist, `"count":0`) {
		t.Errorf("node b sees node a's samples: %s", hist)
	}
	if hist := string(a.API.Get(t, "/api/v1/metrics/history").Body); !strings.Contains(hist, `"nr_queued":111`) {
		t.Errorf("node a's history: %s", hist)
	}
}

// TestStoreOutage stops the database under a running server: writes get
// 503 with a clear error, reads keep the last resolution, health and
// readiness say the store is down, and everything recovers by itself when
// the database returns.
func TestStoreOutage(t *testing.T) {
	pg := testenv.StartPostgresCluster(t)
	fixture := "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
	srv := startServer(t, nil, "--store="+pg.DSN, fixture, "--cgroup-root="+t.TempDir(), "--kube-mode=off")
	postStrategies(t, srv, `{"strategies":[{"priority":true,"execution_time":7000000,"command_regex":"^loki$"}]}`)
	before := stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies").Body))

	pg.Stop()
	waitFor(t, 30*time.Second, "the store to be reported down", func() bool {
		return srv.API.Get(t, "/readyz").StatusCode == http.StatusServiceUnavailable
	})
	if h := healthOf(t, srv, "store"); !strings.HasPrefix(h, "down:") {
		t.Errorf("store health = %s, want down", h)
	}
	res := srv.API.Post(t, "/api/v1/metrics", "application/json", []byte(seedMetrics))
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "the store cannot be written") {
		t.Errorf("POST metrics while the store is down = %d %s, want 503 naming the store", res.StatusCode, res.Body)
	}
	put := srv.API.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/x", "application/json",
		[]byte(`{"execution_time":1000,"pid":1}`))
	if res := srv.API.Do(t, put); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("PUT strategy while the store is down = %d %s, want 503", res.StatusCode, res.Body)
	}
	if got := stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies").Body)); got != before {
		t.Errorf("GET strategies during the outage =\n%s\nwant the last resolution\n%s", got, before)
	}

	pg.Start()
	waitFor(t, 60*time.Second, "the store to recover", func() bool {
		return srv.API.Get(t, "/readyz").StatusCode == http.StatusOK
	})
	waitFor(t, 30*time.Second, "writes to work again", func() bool {
		return srv.API.Post(t, "/api/v1/metrics", "application/json", []byte(seedMetrics)).StatusCode == http.StatusOK
	})
}
