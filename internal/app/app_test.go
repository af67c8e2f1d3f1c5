package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const seedMetrics = `{"usersched_pid":1234,"nr_queued":10,"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8,
"nr_user_dispatches":100,"nr_kernel_dispatches":50,"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,
"nr_failed_dispatches":0,"nr_sched_congested":3}`

func TestRunServesSeedEndpoints(t *testing.T) {
	srv := startServer(t, nil)
	if res := srv.API.Post(t, "/api/v1/metrics", "application/json", []byte(seedMetrics)); res.StatusCode != http.StatusOK ||
		!strings.Contains(string(res.Body), `"message":"Metrics received successfully"`) {
		t.Fatalf("POST /api/v1/metrics = %d %s", res.StatusCode, res.Body)
	}
	checks := []struct {
		path string
		want []string
	}{
		{"/health", []string{`"status":"healthy"`, `"service":"BSS Metrics API Server"`, `"components"`}},
		{"/healthz", []string{`"status":"ok"`}},
		{"/readyz", []string{`"status":"ready"`}},
		{"/", []string{`"path":"/api/v1/metrics"`, `"node":"test-node"`}},
		{"/api/v1/metrics", []string{`"nr_queued":10`, `"usersched_pid":1234`}},
		{"/api/v1/metrics/history?since=1h", []string{`"count":1`, `"nr_sched_congested":3`}},
		{"/api/v1/metrics/summary?window=1m", []string{`"samples":1`, `"nr_queued":{"min":10,"avg":10,"max":10}`}},
		{"/metrics", []string{`bss_nr_queued{node="test-node"} 10`}},
		{"/api/v1/openapi.yaml", []string{"openapi: 3"}},
	}
	for _, c := range checks {
		res := srv.API.Get(t, c.path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %s", c.path, res.StatusCode, res.Body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(res.Body), w) {
				t.Errorf("GET %s = %s, missing %s", c.path, res.Body, w)
			}
		}
	}
}

func TestRunShutdownFinishesInFlightRequests(t *testing.T) {
	srv := startServer(t, nil)
	// A request whose body arrives slowly is in flight when shutdown starts.
	pr, pw := io.Pipe()
	type result struct {
		code int
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/api/v1/metrics", "application/json", pr)
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	if _, err := pw.Write([]byte(`{"nr_queued":`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "request to be in flight", func() bool {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// The POST and this scrape.
		return bytes.Contains(b, []byte("\nbss_http_requests_in_flight 2\n"))
	})
	srv.stop()
	// New connections are refused once shutdown has begun.
	waitFor(t, 5*time.Second, "listener to close", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case err := <-srv.done:
		t.Fatalf("Run() returned %v before the in-flight request finished", err)
	default:
	}
	if _, err := pw.Write([]byte(`7}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-got
	if r.err != nil || r.code != http.StatusOK {
		t.Errorf("in-flight request: code %d, err %v; want 200", r.code, r.err)
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
		srv.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Error("Run() did not return after the last request finished")
	}
}

func TestRunPortClashFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = Run(ctx, []string{"--listen=" + ln.Addr().String(), "--store=memory"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("Run() = %v, want a listen error", err)
	}
	if ctx.Err() != nil {
		t.Error("Run() waited for the context instead of failing at once")
	}
	if ExitCode(err) != 1 {
		t.Errorf("ExitCode() = %d, want 1", ExitCode(err))
	}
}

func TestRunBadConfig(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"--log-level=loud"}, func(string) string { return "" }, &out, io.Discard)
	if err == nil || ExitCode(err) != 2 {
		t.Fatalf("Run() = %v (exit %d), want a usage error with exit 2", err, ExitCode(err))
	}
	if !strings.Contains(err.Error(), "--log-level") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q must be one line naming --log-level", err)
	}
	err = Run(context.Background(), nil, func(k string) string {
		if k == "BSS_LISTEN" {
			return "nowhere"
		}
		return ""
	}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("Run() with BSS_LISTEN=nowhere = %v, want an error naming the listen address", err)
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--version"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "bss-api ") {
		t.Errorf("--version printed %q", out.String())
	}
	out.Reset()
	if err := Run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Errorf("--help: Run() = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "-listen") {
		t.Errorf("--help printed %q", out.String())
	}
}
