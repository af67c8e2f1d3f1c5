package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/config"
)

// bodyFor is a request body each route with a body accepts when it is
// sent as application/json; routes not named here get "{}".
var bodyFor = map[string]string{
	"POST /api/v1/metrics":                                 `{"nr_queued":1}`,
	"POST /api/v1/scheduling/strategies":                   `{"strategies":[{"name":"csrf","execution_time":1000,"command_regex":"x"}]}`,
	"PUT /api/v1/scheduling/strategies/definitions/{name}": `{"execution_time":1000,"command_regex":"x"}`,
	"POST /api/v1/scheduling/strategies/preview":           `{"strategies":[{"execution_time":1000,"command_regex":"x"}]}`,
	"POST /api/v1/auth/token":                              `{"public_key":"any"}`,
}

// anyKeyIssuer enables the token endpoint and issues a token for any key.
type anyKeyIssuer struct{}

func (anyKeyIssuer) Issue(context.Context, string) (string, time.Time, error) {
	return "token", start.Add(24 * time.Hour), nil
}

// state is what a request could change: the stored strategies and the
// number of metric samples received.
func state(t *testing.T, h http.Handler, cfg Config) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/scheduling/strategies/definitions", nil))
	var v struct{ Strategies json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("definitions: %v (%s)", err, rec.Body)
	}
	return fmt.Sprintf("%s samples=%d", v.Strategies, storedCount(t, cfg.Metrics))
}

// TestEveryBodyMustBeJSON sends every route that takes a body (from the
// route table, so a new one is covered) the body types a browser may send
// across sites without a preflight: none (a Blob), text/plain and the two
// form encodings. Each is refused with 415 and changes nothing; the same
// body as application/json is accepted, so the refusal is the type's.
func TestEveryBodyMustBeJSON(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.SchedulerTokens, cfg.TokenLimits = anyKeyIssuer{}, TokenLimits{PerSecond: 1, Burst: 100}
	h := New(cfg) // no Guard: the anonymous operator, who may do anything
	var withBody []route
	for _, rt := range testRoutes(cfg) {
		method, _, _ := strings.Cut(rt.pattern, " ")
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			withBody = append(withBody, rt)
		}
	}
	if len(withBody) < 4 {
		t.Fatalf("found %d routes with a body; the route table has at least 4", len(withBody))
	}
	for _, rt := range withBody {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.ReplaceAll(path, "{name}", "csrf")
		body, ok := bodyFor[rt.pattern]
		if !ok {
			body = "{}"
		}
		for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/jsonx", "application/json-seq"} {
			before := state(t, h, cfg)
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), `"success":false`) {
				t.Errorf("%s with Content-Type %q = %d %s; want 415 in the envelope", rt.pattern, ct, rec.Code, rec.Body)
			}
			if after := state(t, h, cfg); after != before {
				t.Errorf("%s with Content-Type %q changed the state from %s to %s", rt.pattern, ct, before, after)
			}
		}
		if !ok {
			continue
		}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			t.Errorf("%s as application/json = %d %s; want it accepted", rt.pattern, rec.Code, rec.Body)
		}
	}
}

func TestHostCheck(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.AllowHost = config.IsLoopbackHost
	h := New(cfg)
	const write = `{"strategies":[{"execution_time":1000,"command_regex":"x"}]}`
	do := func(method, path, host string) *httptest.ResponseRecorder {
		var req *http.Request
		if method == http.MethodPost {
			req = httptest.NewRequest(method, path, strings.NewReader(write))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	allowed := []string{"127.0.0.1:8080", "127.0.0.1", "127.1.2.3:8080", "localhost:8080", "LOCALHOST", "localhost.",
		"app.localhost:8080", "[::1]:8080", "[::1]"}
	refused := []string{"rebind.test:8080", "attacker.example", "10.0.0.5:8080", "[fe80::1]:8080", "",
		"localhost.attacker.example", "127.0.0.1.nip.io:8080", "0.0.0.0:8080"}
	for _, host := range allowed {
		if rec := do(http.MethodGet, "/api/v1/scheduling/strategies/definitions", host); rec.Code != http.StatusOK {
			t.Errorf("Host %q = %d %s; want it served", host, rec.Code, rec.Body)
		}
	}
	before := do(http.MethodGet, "/api/v1/scheduling/strategies/definitions", "localhost").Body.String()
	for _, host := range refused {
		for _, path := range []string{"/api/v1/scheduling/strategies/definitions", "/readyz", "/no/such/path"} {
			rec := do(http.MethodGet, path, host)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"success":false`) ||
				!strings.Contains(rec.Body.String(), "loopback") {
				t.Errorf("GET %s with Host %q = %d %s; want 403 in the envelope", path, host, rec.Code, rec.Body)
			}
		}
		if rec := do(http.MethodPost, "/api/v1/scheduling/strategies", host); rec.Code != http.StatusForbidden {
			t.Errorf("POST with Host %q = %d; want 403", host, rec.Code)
		}
	}
	if after := do(http.MethodGet, "/api/v1/scheduling/strategies/definitions", "localhost").Body.String(); after != before {
		t.Errorf("refused writes changed the strategies:\n%s\n%s", before, after)
	}
	metrics := do(http.MethodGet, "/metrics", "localhost").Body.String()
	if !strings.Contains(metrics, `bss_http_requests_total{code="403",method="POST",route="refused host"}`) {
		t.Errorf("refused requests are not counted under route \"refused host\"")
	}

	// Without AllowHost (a server with credentials) any Host is served.
	cfg = newTestConfig(t, &fakeClock{now: start})
	h = New(cfg)
	if rec := do(http.MethodGet, "/readyz", "node-1.example:8080"); rec.Code != http.StatusOK {
		t.Errorf("without a host check: %d %s", rec.Code, rec.Body)
	}
}

func TestCORSAdmitsOnlyNamedOrigins(t *testing.T) {
	const allowed, other = "http://dashboard.example", "http://attacker.example"
	preflight := func(h http.Handler, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/api/v1/scheduling/strategies", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	read := func(h http.Handler, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/scheduling/strategies", nil)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.CORSOrigins = []string{allowed}
	h := New(cfg)
	rec := preflight(h, allowed)
	if rec.Code >= 300 || rec.Header().Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), http.MethodPost) ||
		!slices.Contains(strings.Split(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), ", "), "content-type") {
		t.Errorf("preflight from the allowed origin = %d %v; want POST with Content-Type allowed", rec.Code, rec.Header())
	}
	if rec := read(h, allowed); rec.Header().Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("GET from the allowed origin: Access-Control-Allow-Origin %q", rec.Header().Get("Access-Control-Allow-Origin"))
	}
	for _, h := range []http.Handler{h, New(withoutCORS(newTestConfig(t, &fakeClock{now: start})))} {
		rec := preflight(h, other)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" || rec.Header().Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from another origin: %d %v; want no CORS permission", rec.Code, rec.Header())
		}
		if got := read(h, other).Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET from another origin: Access-Control-Allow-Origin %q, want none", got)
		}
	}
}

func withoutCORS(cfg Config) Config {
	cfg.CORSOrigins = nil
	return cfg
}
