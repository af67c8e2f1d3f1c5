package httpapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

func TestEveryRouteStatesARule(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.Guard = auth.NewGuard(auth.GuardOptions{})
	for _, rt := range testRoutes(cfg) {
		if !rt.rule.Valid() {
			t.Errorf("%s has no authorization rule", rt.pattern)
		}
	}
}

// Tokens of the test token file, one per role.
const (
	schedulerToken = "scheduler-token-0123456789"
	viewerToken    = "viewer-token-0123456789ab"
	operatorToken  = "operator-token-0123456789"
)

// guardedEnv is a test server whose Guard knows the three tokens above.
func guardedEnv(t *testing.T) *testEnv {
	t.Helper()
	tf := testTokenFile(t)
	return newTestEnv(t, newValidator(t), func(cfg *Config) {
		cfg.Guard = auth.NewGuard(auth.GuardOptions{Tokens: []auth.TokenAuthenticator{tf}})
	})
}

// testTokenFile is a token file with the three tokens above.
func testTokenFile(t *testing.T) *auth.TokenFile {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens.csv")
	content := "# token,role,name\n" +
		schedulerToken + ",scheduler,sched\n" +
		viewerToken + ",viewer,alice\n" +
		operatorToken + ",operator,bob\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := auth.LoadTokenFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func TestGuardedRoutes(t *testing.T) {
	env := guardedEnv(t)
	do := func(method, path, token, authz string, body string) *contract.Response {
		t.Helper()
		var b []byte
		ct := ""
		if body != "" {
			b, ct = []byte(body), "application/json"
		}
		req := env.client.NewRequest(t, method, path, ct, b)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		return env.client.Do(t, req)
	}
	const write = `{"strategies":[{"name":"a","execution_time":1000,"command_regex":"x"}]}`

	cases := []struct {
		name           string
		method, path   string
		token, authz   string
		body           string
		want           int
		changesStrateg bool
	}{
		{name: "no credential", method: "GET", path: "/api/v1/scheduling/strategies", want: 401},
		{name: "malformed scheme", method: "GET", path: "/api/v1/scheduling/strategies", authz: "Basic YTpi", want: 401},
		{name: "empty bearer", method: "GET", path: "/api/v1/scheduling/strategies", authz: "Bearer ", want: 401},
		{name: "unknown token", method: "GET", path: "/api/v1/scheduling/strategies", token: "no-such-token-0123456789", want: 401},
		{name: "scheduler reads resolved", method: "GET", path: "/api/v1/scheduling/strategies", token: schedulerToken, want: 200},
		{name: "scheduler posts metrics", method: "POST", path: "/api/v1/metrics", token: schedulerToken, body: `{"nr_queued":1}`, want: 200},
		{name: "scheduler may not read definitions", method: "GET", path: "/api/v1/scheduling/strategies/definitions", token: schedulerToken, want: 403},
		{name: "scheduler may not write", method: "POST", path: "/api/v1/scheduling/strategies", token: schedulerToken, body: write, want: 403},
		{name: "viewer reads definitions", method: "GET", path: "/api/v1/scheduling/strategies/definitions", token: viewerToken, want: 200},
		{name: "viewer reads history", method: "GET", path: "/api/v1/metrics/history", token: viewerToken, want: 200},
		{name: "viewer may not post metrics", method: "POST", path: "/api/v1/metrics", token: viewerToken, body: `{"nr_queued":1}`, want: 403},
		{name: "viewer may not write", method: "POST", path: "/api/v1/scheduling/strategies", token: viewerToken, body: write, want: 403},
		{name: "viewer may not preview", method: "POST", path: "/api/v1/scheduling/strategies/preview", token: viewerToken, body: write, want: 403},
		{name: "unauthenticated write", method: "POST", path: "/api/v1/scheduling/strategies", body: write, want: 401},
		{name: "operator writes", method: "POST", path: "/api/v1/scheduling/strategies", token: operatorToken, body: write, want: 200, changesStrateg: true},
		{name: "probes stay open", method: "GET", path: "/readyz", want: 200},
		{name: "liveness stays open", method: "GET", path: "/healthz", want: 200},
		{name: "service description is open", method: "GET", path: "/", want: 200},
		{name: "prometheus needs a credential", method: "GET", path: "/metrics", want: 401},
		{name: "viewer scrapes prometheus", method: "GET", path: "/metrics", token: viewerToken, want: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := definitions(t, env)
			res := do(c.method, c.path, c.token, c.authz, c.body)
			if res.StatusCode != c.want {
				t.Fatalf("%s %s = %d, want %d", c.method, c.path, res.StatusCode, c.want)
			}
			if c.want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") != `Bearer realm="bss-api"` {
				t.Errorf("401 without WWW-Authenticate: %q", res.Header.Get("WWW-Authenticate"))
			}
			if after := definitions(t, env); (after != before) != c.changesStrateg {
				t.Errorf("definitions went from %s to %s", before, after)
			}
		})
	}
}

// definitions returns the stored strategies, read with the operator token.
func definitions(t *testing.T, env *testEnv) string {
	t.Helper()
	req := env.client.NewRequest(t, http.MethodGet, "/api/v1/scheduling/strategies/definitions", "", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	res := env.client.Do(t, req)
	var v struct{ Strategies json.RawMessage }
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	return string(v.Strategies)
}

func TestHealthDetailNeedsTheRightToReadIt(t *testing.T) {
	env := guardedEnv(t)
	anon := env.client.Get(t, "/health")
	if anon.StatusCode != http.StatusOK || strings.Contains(string(anon.Body), "components") || strings.Contains(string(anon.Body), "v1.2.3") {
		t.Errorf("anonymous /health = %d %s, want the seed's fields only", anon.StatusCode, anon.Body)
	}
	for token, want := range map[string]bool{viewerToken: true, operatorToken: true, schedulerToken: false} {
		req := env.client.NewRequest(t, http.MethodGet, "/health", "", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res := env.client.Do(t, req)
		if got := strings.Contains(string(res.Body), `"components"`); got != want {
			t.Errorf("/health with %s shows components: %v, want %v (%s)", token, got, want, res.Body)
		}
	}
	ready := env.client.Get(t, "/readyz")
	if strings.Contains(string(ready.Body), "memory") || !strings.Contains(string(ready.Body), `"store":{"status":"ok"}`) {
		t.Errorf("anonymous /readyz = %s, want component states without details", ready.Body)
	}
}

func TestOpenGuardIsTheAnonymousOperator(t *testing.T) {
	env := newTestEnv(t, newValidator(t), nil)
	res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json",
		[]byte(`{"strategies":[{"execution_time":1000,"command_regex":"x"}]}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("open server refused a write: %d %s", res.StatusCode, res.Body)
	}
	if h := env.client.Get(t, "/health"); !strings.Contains(string(h.Body), `"components"`) {
		t.Errorf("open server hides health details: %s", h.Body)
	}
}
