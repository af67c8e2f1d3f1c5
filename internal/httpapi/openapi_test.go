package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// seedExample is the request body of the seed's POST /api/v1/metrics example.
const seedExample = `{
  "usersched_pid": 1234,
  "nr_queued": 10,
  "nr_scheduled": 5,
  "nr_running": 2,
  "nr_online_cpus": 8,
  "nr_user_dispatches": 100,
  "nr_kernel_dispatches": 50,
  "nr_cancel_dispatches": 2,
  "nr_bounce_dispatches": 1,
  "nr_failed_dispatches": 0,
  "nr_sched_congested": 3
}`

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := contract.Load(openapiYAML)
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi version: got %q, want %q", got, want)
	}
	if doc.Info == nil || doc.Info.Description == "" {
		t.Error("info.description is empty")
	}
}

func TestOpenAPIDocumentCoversRouteTable(t *testing.T) {
	doc, err := contract.Load(openapiYAML)
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	cfg := newTestConfig(t, &fakeClock{now: start})
	New(cfg) // the route table must build into a server
	routes := testRoutes(cfg)

	fromRoutes := map[string]string{} // "METHOD path" -> description
	for _, rt := range routes {
		ep := rt.endpoint()
		fromRoutes[ep.Method+" "+ep.Path] = ep.Description
	}
	fromDoc := map[string]string{} // "METHOD path" -> summary
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			fromDoc[method+" "+path] = op.Summary
		}
	}

	for key, description := range fromRoutes {
		summary, ok := fromDoc[key]
		if !ok {
			t.Errorf("route %s is missing from openapi.yaml", key)
			continue
		}
		if summary != description {
			t.Errorf("%s: openapi.yaml summary %q, route description %q", key, summary, description)
		}
	}
	for key := range fromDoc {
		if _, ok := fromRoutes[key]; !ok {
			t.Errorf("openapi.yaml documents %s, which is not in routeTable()", key)
		}
	}
	if got, want := len(fromDoc), len(routes); got != want {
		t.Errorf("operations in openapi.yaml: got %d, want %d (one per route)", got, want)
	}
}

// exchange is one request of a scenario and what it must answer.
type exchange struct {
	name        string
	method      string // GET when empty
	path        string
	contentType string
	body        string
	chunked     bool          // send the body without a Content-Length
	advance     time.Duration // move the clock forward before the request
	unrouted    bool          // the request deliberately matches no operation
	wantStatus  int
	check       func(t *testing.T, res *contract.Response)
}

// run performs the exchanges in order against env, each a subtest.
func run(t *testing.T, env *testEnv, exchanges []exchange) {
	t.Helper()
	for _, ex := range exchanges {
		t.Run(ex.name, func(t *testing.T) {
			env.clock.Advance(ex.advance)
			method := cmpOr(ex.method, http.MethodGet)
			var body []byte
			if ex.body != "" {
				body = []byte(ex.body)
			}
			req := env.client.NewRequest(t, method, ex.path, ex.contentType, body)
			if ex.chunked {
				req.ContentLength = -1
			}
			var res *contract.Response
			if ex.unrouted {
				res = env.client.DoUnrouted(t, req)
			} else {
				res = env.client.Do(t, req)
			}
			if got, want := res.StatusCode, ex.wantStatus; got != want {
				t.Fatalf("%s %s: got status %d, want %d; body: %s", method, ex.path, got, want, res.Body)
			}
			if ex.check != nil {
				ex.check(t, res)
			}
		})
	}
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// field checks that the JSON body's top-level key equals the JSON value want.
func field(key, want string) func(*testing.T, *contract.Response) {
	return func(t *testing.T, res *contract.Response) {
		t.Helper()
		var body map[string]any
		if err := json.Unmarshal(res.Body, &body); err != nil {
			t.Fatalf("response body is not a JSON object: %v", err)
		}
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatalf("bad want %q: %v", want, err)
		}
		if got := body[key]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v, want %v", key, got, w)
		}
	}
}

// errorContains checks that the error envelope's message contains want.
func errorContains(want string) func(*testing.T, *contract.Response) {
	return func(t *testing.T, res *contract.Response) {
		t.Helper()
		var body struct{ Error string }
		if err := json.Unmarshal(res.Body, &body); err != nil {
			t.Fatalf("response body is not a JSON object: %v", err)
		}
		if !strings.Contains(body.Error, want) {
			t.Errorf("error: got %q, want it to contain %q", body.Error, want)
		}
	}
}

// bodyContains checks that the raw body contains want.
func bodyContains(want string) func(*testing.T, *contract.Response) {
	return func(t *testing.T, res *contract.Response) {
		t.Helper()
		if !bytes.Contains(res.Body, []byte(want)) {
			t.Errorf("body does not contain %q:\n%s", want, res.Body)
		}
	}
}

// all combines checks.
func all(checks ...func(*testing.T, *contract.Response)) func(*testing.T, *contract.Response) {
	return func(t *testing.T, res *contract.Response) {
		t.Helper()
		for _, c := range checks {
			c(t, res)
		}
	}
}

// batch returns a JSON array of n small samples.
func batch(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"usersched_pid":1234,"nr_queued":3,"nr_user_dispatches":500}`
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestEndpointsMatchOpenAPI(t *testing.T) {
	v := newValidator(t)
	env := newTestEnv(t, v, nil)

	var wantEndpoints []endpoint
	for _, rt := range testRoutes(env.cfg) {
		wantEndpoints = append(wantEndpoints, rt.endpoint())
	}
	endpointsJSON, err := json.Marshal(wantEndpoints)
	if err != nil {
		t.Fatal(err)
	}

	const appJSON = "application/json"
	run(t, env, []exchange{
		// Before any POST.
		{name: "latest before any POST", path: "/api/v1/metrics", wantStatus: http.StatusNotFound,
			check: errorContains("no metrics received yet")},
		{name: "history before any POST", path: "/api/v1/metrics/history", wantStatus: http.StatusOK,
			check: all(field("count", "0"), field("samples", "[]"), field("has_more", "false"))},
		{name: "summary before any POST", path: "/api/v1/metrics/summary", wantStatus: http.StatusOK,
			check: all(field("samples", "0"), field("window", `"5m0s"`), field("gauges", "{}"))},

		// Service endpoints.
		{name: "info", path: "/", wantStatus: http.StatusOK,
			check: all(field("endpoints", string(endpointsJSON)), field("timestamp", `"2025-06-19T10:30:00Z"`),
				field("service", `"BSS Metrics API Server"`), field("node", `"test-node"`))},
		{name: "info HEAD", method: http.MethodHead, path: "/", wantStatus: http.StatusOK},
		{name: "health", path: "/health", wantStatus: http.StatusOK, check: field("status", `"healthy"`)},
		{name: "healthz", path: "/healthz", wantStatus: http.StatusOK, check: field("status", `"ok"`)},
		{name: "readyz", path: "/readyz", wantStatus: http.StatusOK, check: field("status", `"ready"`)},
		{name: "prometheus", path: "/metrics", wantStatus: http.StatusOK, check: bodyContains("bss_http_requests_total")},
		{name: "openapi document", path: "/api/v1/openapi.yaml", wantStatus: http.StatusOK,
			check: func(t *testing.T, res *contract.Response) {
				if !bytes.Equal(res.Body, openapiYAML) {
					t.Error("served document differs from the embedded openapi.yaml")
				}
			}},

		// Good posts.
		{name: "post seed example", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: seedExample, wantStatus: http.StatusOK,
			check: all(field("success", "true"), field("message", `"Metrics received successfully"`),
				field("timestamp", `"2025-06-19T10:30:00Z"`), field("stored", "1"))},
		{name: "latest after POST", path: "/api/v1/metrics", wantStatus: http.StatusOK,
			check: func(t *testing.T, res *contract.Response) {
				var got latestMetricsResponse
				if err := json.Unmarshal(res.Body, &got); err != nil {
					t.Fatal(err)
				}
				want := metrics.Sample{UserschedPID: 1234, NrQueued: 10, NrScheduled: 5, NrRunning: 2, NrOnlineCPUs: 8,
					NrUserDispatches: 100, NrKernelDispatches: 50, NrCancelDispatches: 2, NrBounceDispatches: 1, NrSchedCongested: 3}
				if got.Metrics.Sample != want || !got.Metrics.ReceivedAt.Equal(start) {
					t.Errorf("metrics: got %+v, want %+v received at %s", got.Metrics, want, start)
				}
			}},
		{name: "post batch", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: batch(3), advance: 10 * time.Second, wantStatus: http.StatusOK, check: field("stored", "3")},
		{name: "post with charset", method: http.MethodPost, path: "/api/v1/metrics",
			contentType: "application/json; charset=utf-8", body: `{"nr_queued":4}`, advance: time.Second,
			wantStatus: http.StatusOK},
		{name: "post without Content-Type", method: http.MethodPost, path: "/api/v1/metrics",
			body: `{"nr_queued":5}`, advance: time.Second, wantStatus: http.StatusUnsupportedMediaType,
			check: errorContains("Content-Type header is missing")},
		{name: "post with unknown fields", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":6,"zeta":1,"alpha":{"x":[1]}}`, advance: time.Second, wantStatus: http.StatusOK,
			check: field("ignored_fields", `["alpha","zeta"]`)},
		{name: "post largest values", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"usersched_pid":4294967295,"nr_queued":18446744073709551615}`, advance: time.Second,
			wantStatus: http.StatusOK},
		{name: "post batch of 1000", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: batch(1000), advance: time.Second, wantStatus: http.StatusOK, check: field("stored", "1000")},

		// Bad posts.
		{name: "post bad JSON", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":`, wantStatus: http.StatusBadRequest, check: errorContains("Invalid JSON format")},
		{name: "post empty body", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			wantStatus: http.StatusBadRequest, check: errorContains("request body is empty")},
		{name: "post empty object", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{}`, wantStatus: http.StatusBadRequest, check: errorContains("no known field")},
		{name: "post only unknown fields", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"foo":1}`, wantStatus: http.StatusBadRequest, check: errorContains("no known field")},
		{name: "post null", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `null`, wantStatus: http.StatusBadRequest},
		{name: "post string body", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `"metrics"`, wantStatus: http.StatusBadRequest},
		{name: "post string value", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":"10"}`, wantStatus: http.StatusBadRequest,
			check: errorContains("nr_queued: must be a non-negative integer")},
		{name: "post float value", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":1.5}`, wantStatus: http.StatusBadRequest, check: errorContains("nr_queued")},
		{name: "post integral float", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":10.0}`, wantStatus: http.StatusBadRequest, check: errorContains("nr_queued")},
		{name: "post exponent", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":1e3}`, wantStatus: http.StatusBadRequest, check: errorContains("nr_queued")},
		{name: "post negative", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_running":-1}`, wantStatus: http.StatusBadRequest, check: errorContains("nr_running")},
		{name: "post pid overflow", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"usersched_pid":4294967296}`, wantStatus: http.StatusBadRequest,
			check: errorContains("usersched_pid: must be at most 4294967295")},
		{name: "post uint64 overflow", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":18446744073709551616}`, wantStatus: http.StatusBadRequest,
			check: errorContains("nr_queued: must be at most")},
		{name: "post null value", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":null}`, wantStatus: http.StatusBadRequest, check: errorContains("nr_queued")},
		{name: "post duplicate field", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `{"nr_queued":1,"nr_queued":2}`, wantStatus: http.StatusBadRequest, check: errorContains("duplicate field")},
		{name: "post empty batch", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `[]`, wantStatus: http.StatusBadRequest, check: errorContains("batch is empty")},
		{name: "post batch with a bad item", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: `[{"nr_queued":1},{"nr_queued":-2},7]`, wantStatus: http.StatusBadRequest,
			check: all(errorContains("[1].nr_queued"), errorContains("[2]: must be a JSON object"))},
		{name: "post batch of 1001", method: http.MethodPost, path: "/api/v1/metrics", contentType: appJSON,
			body: batch(1001), wantStatus: http.StatusBadRequest, check: errorContains("more than 1000")},
		{name: "post text/plain", method: http.MethodPost, path: "/api/v1/metrics", contentType: "text/plain",
			body: seedExample, wantStatus: http.StatusUnsupportedMediaType, check: errorContains("text/plain")},
		{name: "post form", method: http.MethodPost, path: "/api/v1/metrics",
			contentType: "application/x-www-form-urlencoded", body: "nr_queued=1",
			wantStatus: http.StatusUnsupportedMediaType},
		{name: "post malformed Content-Type", method: http.MethodPost, path: "/api/v1/metrics",
			contentType: "application/json;;", body: seedExample, wantStatus: http.StatusUnsupportedMediaType},

		// History: the store holds 1 + 3 + 1 + 1 + 1 + 1000 = 1007 samples.
		{name: "history default", path: "/api/v1/metrics/history", wantStatus: http.StatusOK,
			check: all(field("count", "1000"), field("has_more", "true"))},
		{name: "history limit", path: "/api/v1/metrics/history?limit=2", wantStatus: http.StatusOK,
			check: all(field("count", "2"), field("has_more", "true"), field("next_since", `"2025-06-19T10:30:10.000000001Z"`))},
		{name: "history next page", path: "/api/v1/metrics/history?since=2025-06-19T10:30:10.000000001Z&limit=2",
			wantStatus: http.StatusOK, check: field("count", "2")},
		{name: "history since and until", path: "/api/v1/metrics/history?since=2025-06-19T10:30:00Z&until=2025-06-19T10:30:05Z",
			wantStatus: http.StatusOK, check: all(field("count", "1"), field("has_more", "false"))},
		{name: "history since duration", path: "/api/v1/metrics/history?since=2s&limit=10000", wantStatus: http.StatusOK,
			check: field("count", "1002")},
		{name: "history until duration", path: "/api/v1/metrics/history?until=1m", wantStatus: http.StatusOK,
			check: field("count", "0")},
		{name: "history until before since", path: "/api/v1/metrics/history?since=2025-06-19T11:00:00Z&until=2025-06-19T10:00:00Z",
			wantStatus: http.StatusBadRequest, check: errorContains("until: must be after since")},
		{name: "history bad since", path: "/api/v1/metrics/history?since=yesterday",
			wantStatus: http.StatusBadRequest, check: errorContains("since:")},
		{name: "history negative since", path: "/api/v1/metrics/history?since=-5m",
			wantStatus: http.StatusBadRequest, check: errorContains("since:")},
		{name: "history bad until", path: "/api/v1/metrics/history?until=2025-13-01T00:00:00Z",
			wantStatus: http.StatusBadRequest, check: errorContains("until:")},
		{name: "history limit zero", path: "/api/v1/metrics/history?limit=0",
			wantStatus: http.StatusBadRequest, check: errorContains("limit:")},
		{name: "history limit too large", path: "/api/v1/metrics/history?limit=10001",
			wantStatus: http.StatusBadRequest, check: errorContains("limit:")},
		{name: "history limit not a number", path: "/api/v1/metrics/history?limit=ten",
			wantStatus: http.StatusBadRequest, check: errorContains("limit:")},

		// Summary. The clock moves on first: a batch's samples are received at
		// consecutive nanoseconds from now, and a window ends at now.
		{name: "summary default window", path: "/api/v1/metrics/summary", advance: time.Second, wantStatus: http.StatusOK,
			check: all(field("samples", "1007"), field("window", `"5m0s"`), field("to", `"2025-06-19T10:30:16Z"`),
				field("resets", "3"))},
		{name: "summary window", path: "/api/v1/metrics/summary?window=1h30m", wantStatus: http.StatusOK,
			check: field("window", `"1h30m0s"`)},
		{name: "summary short window", path: "/api/v1/metrics/summary?window=1500ms", wantStatus: http.StatusOK,
			check: all(field("samples", "1000"), field("window", `"1.5s"`), field("resets", "0"))},
		{name: "summary zero window", path: "/api/v1/metrics/summary?window=0s",
			wantStatus: http.StatusBadRequest, check: errorContains("window:")},
		{name: "summary negative window", path: "/api/v1/metrics/summary?window=-1m",
			wantStatus: http.StatusBadRequest, check: errorContains("window:")},
		{name: "summary window not a duration", path: "/api/v1/metrics/summary?window=5",
			wantStatus: http.StatusBadRequest, check: errorContains("window:")},
		{name: "summary window over retention", path: "/api/v1/metrics/summary?window=48h",
			wantStatus: http.StatusBadRequest, check: errorContains("at most 24h0m0s")},

		// No such route.
		{name: "unknown path", path: "/nope", unrouted: true, wantStatus: http.StatusNotFound,
			check: errorContains("no endpoint at /nope")},
		{name: "trailing slash", path: "/api/v1/metrics/", unrouted: true, wantStatus: http.StatusNotFound},
		{name: "delete metrics", method: http.MethodDelete, path: "/api/v1/metrics", unrouted: true,
			wantStatus: http.StatusMethodNotAllowed, check: errorContains("allowed: GET, HEAD, POST")},
		{name: "post health", method: http.MethodPost, path: "/health", unrouted: true,
			contentType: appJSON, body: `{}`, wantStatus: http.StatusMethodNotAllowed},
		{name: "put root", method: http.MethodPut, path: "/", unrouted: true, wantStatus: http.StatusMethodNotAllowed},
		{name: "post history", method: http.MethodPost, path: "/api/v1/metrics/history", unrouted: true,
			wantStatus: http.StatusMethodNotAllowed},

		// The service endpoints again, with data and traffic recorded.
		{name: "prometheus after traffic", path: "/metrics", wantStatus: http.StatusOK,
			check: all(bodyContains(`bss_nr_queued{node="test-node"} 3`), bodyContains(`code="415"`))},
		{name: "health after traffic", path: "/health", wantStatus: http.StatusOK, check: field("status", `"healthy"`)},
	})
}

func TestBodyLimit(t *testing.T) {
	v := newValidator(t)
	env := newTestEnv(t, v, func(cfg *Config) { cfg.MaxBodyBytes = 64 })
	atLimit := `{"nr_queued":1}` + strings.Repeat(" ", 64-len(`{"nr_queued":1}`))
	overLimit := atLimit + " "

	run(t, env, []exchange{
		{name: "at the limit", method: http.MethodPost, path: "/api/v1/metrics", contentType: "application/json",
			body: atLimit, wantStatus: http.StatusOK},
		{name: "at the limit chunked", method: http.MethodPost, path: "/api/v1/metrics", contentType: "application/json",
			body: atLimit, chunked: true, wantStatus: http.StatusOK},
		{name: "over the limit", method: http.MethodPost, path: "/api/v1/metrics", contentType: "application/json",
			body: overLimit, wantStatus: http.StatusRequestEntityTooLarge, check: errorContains("limit of 64 bytes")},
		{name: "over the limit chunked", method: http.MethodPost, path: "/api/v1/metrics", contentType: "application/json",
			body: overLimit, chunked: true, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "far over the limit", method: http.MethodPost, path: "/api/v1/metrics", contentType: "application/json",
			body: batch(20), wantStatus: http.StatusRequestEntityTooLarge},
		{name: "wrong type beats size", method: http.MethodPost, path: "/api/v1/metrics", contentType: "text/plain",
			body: overLimit, wantStatus: http.StatusUnsupportedMediaType},
	})
}

func TestHealthAndReadiness(t *testing.T) {
	probe := func(name string, critical bool, state health.State) health.Check {
		return health.Check{Name: name, Critical: critical, Probe: func(context.Context) health.Report {
			return health.Report{State: state, Detail: string(state)}
		}}
	}
	tests := []struct {
		name       string
		gateOpen   bool
		checks     []health.Check
		wantHealth int
		wantReady  int
	}{
		{"no checks", true, nil, http.StatusOK, http.StatusOK},
		{"all ok", true, []health.Check{probe("store", true, health.OK), probe("metrics", false, health.OK)},
			http.StatusOK, http.StatusOK},
		{"gate closed", false, []health.Check{probe("store", true, health.OK)}, http.StatusOK, http.StatusServiceUnavailable},
		{"gate closed, no checks", false, nil, http.StatusOK, http.StatusServiceUnavailable},
		{"critical down", true, []health.Check{probe("store", true, health.Down)},
			http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"non-critical down", true, []health.Check{probe("store", true, health.OK), probe("metrics", false, health.Down)},
			http.StatusServiceUnavailable, http.StatusOK},
		{"degraded and disabled", true, []health.Check{probe("store", true, health.Degraded), probe("cache", true, health.Disabled)},
			http.StatusOK, http.StatusOK},
	}
	v := newValidator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, v, func(cfg *Config) {
				cfg.Gate.Set(tt.gateOpen)
				cfg.Checks = tt.checks
			})
			wantStatus := map[int]string{http.StatusOK: `"healthy"`, http.StatusServiceUnavailable: `"unhealthy"`}
			wantReady := map[int]string{http.StatusOK: `"ready"`, http.StatusServiceUnavailable: `"not ready"`}
			run(t, env, []exchange{
				{name: "health", path: "/health", wantStatus: tt.wantHealth, check: field("status", wantStatus[tt.wantHealth])},
				{name: "healthz", path: "/healthz", wantStatus: http.StatusOK, check: field("status", `"ok"`)},
				{name: "readyz", path: "/readyz", wantStatus: tt.wantReady, check: field("status", wantReady[tt.wantReady])},
			})
		})
	}
}

// TestValidatorRejectsDrift makes sure the validator catches responses that
// break the document, so the tests above cannot pass vacuously.
func TestValidatorRejectsDrift(t *testing.T) {
	v := newValidator(t)
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"}}
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		header   http.Header
		body     string
		unrouted bool
	}{
		{"undocumented status", http.MethodGet, "/healthz", http.StatusTeapot, jsonHeader, `{"success":false,"error":"x"}`, false},
		{"missing required field", http.MethodGet, "/healthz", http.StatusOK, jsonHeader, `{"status":"ok"}`, false},
		{"extra field", http.MethodGet, "/healthz", http.StatusOK, jsonHeader,
			`{"status":"ok","timestamp":"2025-06-19T10:30:00Z","uptime":3}`, false},
		{"timestamp not RFC3339 UTC", http.MethodGet, "/healthz", http.StatusOK, jsonHeader,
			`{"status":"ok","timestamp":"2025-06-19 10:30:00"}`, false},
		{"wrong Content-Type", http.MethodGet, "/healthz", http.StatusOK,
			http.Header{"Content-Type": {"text/plain"}, "X-Content-Type-Options": {"nosniff"}},
			`{"status":"ok","timestamp":"2025-06-19T10:30:00Z"}`, false},
		{"missing nosniff", http.MethodGet, "/healthz", http.StatusOK, http.Header{"Content-Type": {"application/json"}},
			`{"status":"ok","timestamp":"2025-06-19T10:30:00Z"}`, false},
		{"error envelope with success true", http.MethodGet, "/api/v1/metrics", http.StatusNotFound, jsonHeader,
			`{"success":true,"error":"x"}`, false},
		{"unready with 200", http.MethodGet, "/readyz", http.StatusOK, jsonHeader,
			`{"status":"not ready","timestamp":"2025-06-19T10:30:00Z"}`, false},
		{"undocumented route", http.MethodGet, "/api/v1/pods/pids", http.StatusOK, jsonHeader, `{}`, false},
		{"undocumented method", http.MethodDelete, "/api/v1/metrics", http.StatusOK, jsonHeader, `{}`, false},
		{"documented route as unrouted", http.MethodGet, "/healthz", http.StatusNotFound, jsonHeader,
			`{"success":false,"error":"x"}`, true},
		{"405 for an unknown path", http.MethodGet, "/nope", http.StatusMethodNotAllowed,
			http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"}, "Allow": {"GET"}},
			`{"success":false,"error":"x"}`, true},
		{"405 without Allow", http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, jsonHeader,
			`{"success":false,"error":"x"}`, true},
		{"405 with a wrong Allow", http.MethodDelete, "/healthz", http.StatusMethodNotAllowed,
			http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"}, "Allow": {"GET, HEAD, POST"}},
			`{"success":false,"error":"x"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://127.0.0.1:12345"+tt.path, nil)
			resp := &http.Response{StatusCode: tt.status, Header: tt.header}
			rec := &recordingTB{TB: t}
			if tt.unrouted {
				v.CheckUnrouted(rec, req, nil, resp, []byte(tt.body))
			} else {
				v.Check(rec, req, nil, resp, []byte(tt.body))
			}
			if got, want := len(rec.errors), 1; got != want {
				t.Errorf("validator errors: got %d %q, want %d", got, rec.errors, want)
			}
		})
	}
}

// recordingTB collects Errorf calls instead of failing the test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, _, _ := strings.Cut(fmt.Sprintf(format, args...), "\n")
	r.errors = append(r.errors, first)
}
