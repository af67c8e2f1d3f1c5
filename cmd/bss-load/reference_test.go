package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/reference"
)

func TestReferencePostMetrics(t *testing.T) {
	srv := httptest.NewServer(reference.Handler())
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/api/v1/metrics", "application/json", strings.NewReader(seedBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["success"] != true || got["message"] != "Metrics received successfully" {
		t.Errorf("reply = %v", got)
	}
	ts, _ := got["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("timestamp %q is not RFC3339: %v", ts, err)
	}
	if len(got) != 3 {
		t.Errorf("reply has %d fields, want 3: %v", len(got), got)
	}
}

func TestReferenceRejectsBadJSON(t *testing.T) {
	srv := httptest.NewServer(reference.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/metrics", "application/json", strings.NewReader(`{"nr_queued":-1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
}

func TestReferenceGet(t *testing.T) {
	srv := httptest.NewServer(reference.Handler())
	defer srv.Close()
	for _, path := range []string{"/readyz", "/api/v1/pods/pids"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status = %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestRunLoadAgainstReference drives the reference handler briefly with the
// real load generator. It checks counts, never speed.
func TestRunLoadAgainstReference(t *testing.T) {
	srv := httptest.NewServer(reference.Handler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, name := range []string{"post-metrics", "get:/api/v1/scheduling/strategies"} {
		tg, err := parseTarget(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := runLoad(context.Background(), loadConfig{
			addr: addr, request: buildRequest(tg, addr), method: tg.method, conns: 4, duration: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.latencies) == 0 || res.errors() != 0 {
			t.Errorf("%s: %d responses, %d non-2xx, %d transport errors (first %q)",
				name, len(res.latencies), res.non2xx, res.transport, res.firstErr)
		}
	}
}
