package app

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testenv"
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
// processes, and the metric history are all still there.
func TestRestartKeepsState(t *testing.T) {
	db := "--store=sqlite:" + filepath.Join(t.TempDir(), "state.db")
	fixture := "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
	args := []string{db, fixture, "--cgroup-root=" + t.TempDir(), "--kube-mode=off"}

	srv := startServer(t, nil, args...)
	postStrategies(t, srv, `{"strategies":[{"priority":true,"execution_time":20000000,"command_regex":"^loki$"},
	  {"priority":false,"execution_time":10000000,"pid":717720}]}`)
	if code, body := postJSON(t, srv.URL+"/api/v1/metrics", seedMetrics); code != http.StatusOK {
		t.Fatalf("POST metrics = %d %s", code, body)
	}
	before := stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies").Body))
	defsBefore := stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies/definitions").Body))
	if !strings.Contains(before, `"pid":718001`) {
		t.Fatalf("before restart: %s", before)
	}
	stopServer(t, srv)

	srv = startServer(t, nil, args...)
	waitFor(t, 10*time.Second, "the same resolution after the restart", func() bool {
		return stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies").Body)) == before
	})
	if got := stripVolatile(string(srv.API.Get(t, "/api/v1/scheduling/strategies/definitions").Body)); got != defsBefore {
		t.Errorf("definitions after restart:\n%s\nwant\n%s", got, defsBefore)
	}
	hist := string(srv.API.Get(t, "/api/v1/metrics/history").Body)
	if !strings.Contains(hist, `"count":1`) || !strings.Contains(hist, `"nr_sched_congested":3`) {
		t.Errorf("history after restart: %s", hist)
	}
	if latest := srv.API.Get(t, "/api/v1/metrics"); latest.StatusCode != http.StatusOK {
		t.Errorf("latest after restart: %d", latest.StatusCode)
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
