package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

const (
	strategiesPath  = "/api/v1/scheduling/strategies"
	strategiesRoute = "GET " + strategiesPath
	podsPath        = "/api/v1/pods/pids"
	podsRoute       = "GET " + podsPath
)

// metricValue returns the value of the gauge or counter name whose labels
// include every pair of labels (0 when there is none).
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// waitForWaiters waits, polling the gauge, until route holds n requests.
func waitForWaiters(t *testing.T, reg prometheus.Gatherer, route string, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, reg, "bss_watch_waiters", "route", route) != n {
		if time.Now().After(deadline) {
			t.Fatalf("bss_watch_waiters{route=%q} = %v, want %v", route, metricValue(t, reg, "bss_watch_waiters", "route", route), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// conditionalGet is a validated GET of path with If-None-Match etag (none
// when empty), under ctx.
func conditionalGet(t *testing.T, c *contract.Client, ctx context.Context, path, etag string) *contract.Response {
	t.Helper()
	req := c.NewRequest(t, http.MethodGet, path, "", nil).WithContext(ctx)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	return c.Do(t, req)
}

// goGet starts a conditional GET in a goroutine; the channel receives
// its validated response, or nil when the request failed.
func goGet(t *testing.T, c *contract.Client, ctx context.Context, path, etag string) <-chan *contract.Response {
	t.Helper()
	req := c.NewRequest(t, http.MethodGet, path, "", nil).WithContext(ctx)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	got := make(chan *contract.Response, 1)
	go func() {
		resp, err := c.HTTP.Do(req)
		if err != nil {
			got <- nil
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			got <- nil
			return
		}
		c.Validator.Check(t, req, nil, resp, body)
		got <- &contract.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	}()
	return got
}

func receive(t *testing.T, ch <-chan *contract.Response) *contract.Response {
	t.Helper()
	select {
	case res := <-ch:
		if res == nil {
			t.Fatal("the held request failed")
		}
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the held request was not answered")
		return nil
	}
}

func versionOf(t *testing.T, res *contract.Response) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(res.Header.Get("X-BSS-Version"), 10, 64)
	if err != nil {
		t.Fatalf("X-BSS-Version = %q: %v", res.Header.Get("X-BSS-Version"), err)
	}
	return v
}

func TestWatchStrategiesChangeWakesWaiter(t *testing.T) {
	env := strategyEnv(t)
	reg := env.cfg.Registry
	first := env.client.Get(t, strategiesPath)
	etag, version := first.Header.Get("ETag"), versionOf(t, first)

	held := goGet(t, env.client, t.Context(), strategiesPath+"?wait=30s", etag)
	waitForWaiters(t, reg, strategiesRoute, 1)
	if res := env.client.Post(t, strategiesPath, "application/json", []byte(seedStrategies)); res.StatusCode != http.StatusOK {
		t.Fatalf("POST = %d %s", res.StatusCode, res.Body)
	}
	res := receive(t, held)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("held GET = %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("ETag"); got == etag || got == "" {
		t.Errorf("held GET's ETag = %q, want a new one (was %q)", got, etag)
	}
	if got := versionOf(t, res); got <= version {
		t.Errorf("held GET's version = %d, want more than %d", got, version)
	}
	waitForWaiters(t, reg, strategiesRoute, 0)
	if got := metricValue(t, reg, "bss_watch_returns_total", "route", strategiesRoute, "reason", "changed"); got != 1 {
		t.Errorf("returns{changed} = %v, want 1", got)
	}
	// The new answer is what a plain GET now gets, tag and all.
	now := env.client.Get(t, strategiesPath)
	if now.Header.Get("ETag") != res.Header.Get("ETag") {
		t.Errorf("plain GET's ETag %q differs from the watcher's %q", now.Header.Get("ETag"), res.Header.Get("ETag"))
	}
}

func TestWatchTimeoutAnswersNotModified(t *testing.T) {
	env := strategyEnv(t)
	first := env.client.Get(t, strategiesPath+"?verbose=true")
	etag := first.Header.Get("ETag")
	res := conditionalGet(t, env.client, t.Context(), strategiesPath+"?verbose=true&wait=20ms", etag)
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("GET ?wait=20ms with the current ETag = %d, want 304", res.StatusCode)
	}
	if res.Header.Get("ETag") != etag || versionOf(t, res) != versionOf(t, first) {
		t.Errorf("304 carries ETag %q version %s, want %q and %s", res.Header.Get("ETag"),
			res.Header.Get("X-BSS-Version"), etag, first.Header.Get("X-BSS-Version"))
	}
	if got := metricValue(t, env.cfg.Registry, "bss_watch_returns_total", "route", strategiesRoute, "reason", "timeout"); got != 1 {
		t.Errorf("returns{timeout} = %v, want 1", got)
	}
	// Another query's tag is another representation: answered at once.
	res = conditionalGet(t, env.client, t.Context(), strategiesPath+"?wait=1h", etag)
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET without verbose, ?wait=1h, with the verbose tag = %d, want 200 at once", res.StatusCode)
	}
}

func TestWatchVersionParameter(t *testing.T) {
	env := strategyEnv(t)
	reg := env.cfg.Registry
	version := versionOf(t, env.client.Get(t, strategiesPath))
	at := func(v uint64, wait string) string {
		return strategiesPath + "?version=" + strconv.FormatUint(v, 10) + wait
	}

	if res := env.client.Get(t, at(version, "&wait=10ms")); res.StatusCode != http.StatusNotModified || versionOf(t, res) != version {
		t.Errorf("?version=current&wait=10ms = %d version %s, want 304 version %d", res.StatusCode, res.Header.Get("X-BSS-Version"), version)
	}
	if res := env.client.Get(t, at(version+7, "&wait=1h")); res.StatusCode != http.StatusOK {
		t.Errorf("?version=other&wait=1h = %d, want 200 at once", res.StatusCode)
	}
	if res := env.client.Get(t, strategiesPath+"?wait=1h"); res.StatusCode != http.StatusOK {
		t.Errorf("?wait=1h alone = %d, want 200 at once (nothing to compare with)", res.StatusCode)
	}

	held := goGet(t, env.client, t.Context(), at(version, "&wait=30s"), "")
	waitForWaiters(t, reg, strategiesRoute, 1)
	env.client.Post(t, strategiesPath, "application/json", []byte(seedStrategies))
	res := receive(t, held)
	if res.StatusCode != http.StatusOK || versionOf(t, res) == version {
		t.Errorf("held ?version= after a write = %d version %s, want 200 with a new version", res.StatusCode, res.Header.Get("X-BSS-Version"))
	}
}

func TestWatchBadParameters(t *testing.T) {
	env := strategyEnv(t)
	for _, path := range []string{strategiesPath, podsPath} {
		for _, tt := range []struct{ query, want string }{
			{"?wait=soon", "wait: must be a duration"},
			{"?wait=-1s", "wait: must be a duration"},
			{"?wait=5", "wait: must be a duration"},
			{"?version=-1", "version: must be"},
			{"?version=v3", "version: must be"},
			{"?version=18446744073709551616", "version: must be"},
		} {
			res := env.client.Get(t, path+tt.query)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), tt.want) {
				t.Errorf("GET %s%s = %d %s, want 400 naming %q", path, tt.query, res.StatusCode, res.Body, tt.want)
			}
		}
	}
}

func TestWatchPodsChangeWakesWaiter(t *testing.T) {
	env := strategyEnv(t)
	reg := env.cfg.Registry
	path := podsPath + "?namespace=monitoring&wait=30s"
	first := env.client.Get(t, podsPath+"?namespace=monitoring")
	etag := first.Header.Get("ETag")
	if versionOf(t, first) != 1 {
		t.Fatalf("first pods version = %d, want 1", versionOf(t, first))
	}
	held := goGet(t, env.client, t.Context(), path, etag)
	waitForWaiters(t, reg, podsRoute, 1)
	env.cfg.Pods.(*fakeIndex).set(fixtureSnapshot(2))
	res := receive(t, held)
	if res.StatusCode != http.StatusOK || versionOf(t, res) != 2 || res.Header.Get("ETag") == etag {
		t.Errorf("held pods GET = %d version %s ETag %s, want 200, version 2, a new ETag", res.StatusCode,
			res.Header.Get("X-BSS-Version"), res.Header.Get("ETag"))
	}
	waitForWaiters(t, reg, podsRoute, 0)
}

// A client that hangs up frees its waiter: the handler returns and the
// gauge comes back down, with nothing counted as answered.
func TestWatchDisconnectFreesWaiter(t *testing.T) {
	env := strategyEnv(t)
	reg := env.cfg.Registry
	etag := env.client.Get(t, podsPath).Header.Get("ETag")
	ctx, hangUp := context.WithCancel(t.Context())
	held := goGet(t, env.client, ctx, podsPath+"?wait=5m", etag)
	waitForWaiters(t, reg, podsRoute, 1)
	hangUp()
	if res := <-held; res != nil {
		t.Errorf("request answered %d after its client hung up", res.StatusCode)
	}
	waitForWaiters(t, reg, podsRoute, 0)
	for _, reason := range []string{"changed", "timeout", "shutdown"} {
		if got := metricValue(t, reg, "bss_watch_returns_total", "route", podsRoute, "reason", reason); got != 0 {
			t.Errorf("returns{%s} = %v after a hang-up, want 0", reason, got)
		}
	}
}

// Shutdown answers every held request at once, and a request that comes
// in after it is not held.
func TestWatchShutdownAnswersAtOnce(t *testing.T) {
	stopping := make(chan struct{})
	env := newTestEnv(t, newValidator(t), func(c *Config) { c.Watch.Stopping = stopping })
	syncStrategies(t, env.cfg)
	reg := env.cfg.Registry
	etag := env.client.Get(t, strategiesPath).Header.Get("ETag")
	const n = 5
	held := make([]<-chan *contract.Response, n)
	for i := range held {
		held[i] = goGet(t, env.client, t.Context(), strategiesPath+"?wait=5m", etag)
	}
	waitForWaiters(t, reg, strategiesRoute, n)
	close(stopping)
	for _, ch := range held {
		if res := receive(t, ch); res.StatusCode != http.StatusNotModified || res.Header.Get("ETag") != etag {
			t.Errorf("held GET at shutdown = %d %s, want 304 %s", res.StatusCode, res.Header.Get("ETag"), etag)
		}
	}
	if res := conditionalGet(t, env.client, t.Context(), strategiesPath+"?wait=5m", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("GET ?wait=5m after shutdown began = %d, want 304 at once", res.StatusCode)
	}
	if got := metricValue(t, reg, "bss_watch_returns_total", "route", strategiesRoute, "reason", "shutdown"); got != n+1 {
		t.Errorf("returns{shutdown} = %v, want %d", got, n+1)
	}
	waitForWaiters(t, reg, strategiesRoute, 0)
}

// A wait longer than the server's WriteTimeout is not cut by it: the held
// request's write deadline is moved past the wait.
func TestWatchOutlastsWriteTimeout(t *testing.T) {
	clock := &fakeClock{now: start}
	cfg := newTestConfig(t, clock)
	const writeTimeout = 50 * time.Millisecond
	cfg.Watch.WriteTimeout = writeTimeout
	srv := httptest.NewUnstartedServer(New(cfg))
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	syncStrategies(t, cfg)
	c := contract.NewClient(newValidator(t), srv.URL, srv.Client())
	etag := c.Get(t, strategiesPath).Header.Get("ETag")
	req := c.NewRequest(t, http.MethodGet, strategiesPath+"?wait=200ms", "", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("held GET past the write timeout: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("held GET past the write timeout = %d, want 304", resp.StatusCode)
	}
}

func TestRepresentationQuery(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"", ""},
		{"verbose=true", "verbose=true"},
		{"verbose=true&wait=30s", "verbose=true"},
		{"wait=30s&version=4&namespace=a", "namespace=a"},
		{"await=1&versions=2", "await=1&versions=2"},
	} {
		if got := representationQuery(tt.raw); got != tt.want {
			t.Errorf("representationQuery(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestJitteredStaysWithinASixteenth(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 20 * time.Millisecond, 30 * time.Second, 5 * time.Minute} {
		lo, hi := d+d/16, d
		for range 1000 {
			got := jittered(d)
			if got < d || got > d+d/16 {
				t.Fatalf("jittered(%v) = %v, want within [%v, %v]", d, got, d, d+d/16)
			}
			lo, hi = min(lo, got), max(hi, got)
		}
		if d >= time.Second && hi-lo < d/32 {
			t.Errorf("jittered(%v) spread over only %v in 1000 draws", d, hi-lo)
		}
	}
}
