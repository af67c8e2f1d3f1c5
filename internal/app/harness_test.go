package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/apitest"
)

// testServer is a server started through run, as main starts it.
type testServer struct {
	URL string
	// API performs requests whose responses are validated against the
	// OpenAPI document.
	API *apitest.Client
	// Logs is the server's log (JSON lines).
	Logs *lineBuffer
	done chan error
	stop context.CancelFunc
}

// startServer runs the server on a free loopback port with args added to
// the defaults and stops it when the test ends. It waits for /readyz.
func startServer(t *testing.T, env map[string]string, args ...string) *testServer {
	t.Helper()
	return startServerWith(t, env, nil, args...)
}

// startServerWith is startServer for a server that serves HTTPS when
// client is not nil: its URL is then https, and client (which must trust
// the server's certificate) polls it and makes srv.API's requests.
func startServerWith(t *testing.T, env map[string]string, client *http.Client, args ...string) *testServer {
	t.Helper()
	srv := launchServer(t, env, client, args...)
	if client == nil {
		client = http.DefaultClient
	}
	waitFor(t, 10*time.Second, "server ready", func() bool {
		resp, err := client.Get(srv.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return srv
}

// launchServer is startServerWith without the wait for /readyz: it
// returns once the server listens.
func launchServer(t *testing.T, env map[string]string, client *http.Client, args ...string) *testServer {
	t.Helper()
	scheme := "https"
	if client == nil {
		client, scheme = http.DefaultClient, "http"
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lineBuffer{}
	srv := &testServer{Logs: logs, done: make(chan error, 1), stop: cancel}
	all := append([]string{"--listen=127.0.0.1:0", "--log-format=json", "--node-name=test-node", "--data-dir=" + t.TempDir()}, args...)
	addr := make(chan net.Addr, 1)
	go func() {
		srv.done <- run(ctx, all, func(k string) string { return env[k] }, io.Discard, logs, func(a []net.Addr) { addr <- a[0] })
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	t.Cleanup(func() {
		srv.stop()
		select {
		case err := <-srv.done:
			if err != nil {
				t.Errorf("Run() returned %v on shutdown", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s of cancel")
		}
	})
	select {
	case a := <-addr:
		srv.URL = scheme + "://" + a.String()
		srv.API = apitest.NewClient(apitest.NewValidator(t), srv.URL, client)
	case err := <-srv.done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30s")
	}
	return srv
}

// lineBuffer collects the server's log, written from its goroutines.
type lineBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// poll calls probe every 20ms until it reports done, and returns what it
// saw then. Past bound it fails the test with what it saw last.
func poll[T any](t *testing.T, bound time.Duration, what string, probe func() (got T, done bool)) T {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		got, done := probe()
		if done {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen:\n%+v", bound, what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, bound, what, func() (struct{}, bool) { return struct{}{}, cond() })
}

// logLag reports how long after a change the server published it, by the
// server's own clock. It is a report, not an assertion: the wait that
// found the change is the test; speed is measured by benchmarks.
func logLag(t *testing.T, what string, published, happened time.Time) {
	t.Helper()
	t.Logf("%s: published %s after it happened", what, published.Sub(happened).Round(time.Millisecond))
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
