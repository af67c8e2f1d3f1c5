package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

const otherOperatorToken = "operator-token-two-0123456789"

// limitedEnv is a server with the test tokens plus a second operator, and
// strategy writes limited to one a second, two at once.
func limitedEnv(t *testing.T) *testEnv {
	t.Helper()
	file := filepath.Join(t.TempDir(), "tokens.csv")
	content := viewerToken + ",viewer,alice\n" + operatorToken + ",operator,bob\n" + otherOperatorToken + ",operator,carol\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := auth.LoadTokenFile(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newTestEnv(t, newValidator(t), func(cfg *Config) {
		cfg.Guard = auth.NewGuard(auth.GuardOptions{Tokens: []auth.TokenAuthenticator{tf}})
		cfg.WriteRate, cfg.WriteBurst = 1, 2
	})
}

func TestStrategyWritesAreRateLimitedPerCaller(t *testing.T) {
	env := limitedEnv(t)
	send := func(token, method, path, body string) *contract.Response {
		t.Helper()
		ct := ""
		var b []byte
		if body != "" {
			ct, b = "application/json", []byte(body)
		}
		req := env.client.NewRequest(t, method, path, ct, b)
		req.Header.Set("Authorization", "Bearer "+token)
		return env.client.Do(t, req)
	}
	write := func(token string, n int) *contract.Response {
		t.Helper()
		return send(token, http.MethodPost, "/api/v1/scheduling/strategies",
			fmt.Sprintf(`{"strategies":[{"name":"s%d","execution_time":1000,"command_regex":"x"}]}`, n))
	}
	stored := func() string {
		t.Helper()
		return string(send(viewerToken, http.MethodGet, "/api/v1/scheduling/strategies/definitions", "").Body)
	}

	for n := range 2 {
		if res := write(operatorToken, n); res.StatusCode != http.StatusOK {
			t.Fatalf("write %d within the burst = %d %s", n, res.StatusCode, res.Body)
		}
	}
	before := stored()
	res := write(operatorToken, 2)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" ||
		!strings.Contains(string(res.Body), "too many strategy writes") {
		t.Fatalf("write past the burst = %d (Retry-After %q) %s; want 429, Retry-After 1", res.StatusCode, res.Header.Get("Retry-After"), res.Body)
	}
	// Every strategy write shares the caller's bucket.
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPut, "/api/v1/scheduling/strategies/definitions/x", `{"execution_time":1000,"command_regex":"x"}`},
		{http.MethodDelete, "/api/v1/scheduling/strategies/definitions/s1", ""},
		{http.MethodPost, "/api/v1/scheduling/strategies/preview", `{"strategies":[]}`},
	} {
		if res := send(operatorToken, r.method, r.path, r.body); res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s %s past the rate = %d, want 429", r.method, r.path, res.StatusCode)
		}
	}
	if after := stored(); stripTimestamp(after) != stripTimestamp(before) {
		t.Errorf("refused writes changed the strategies:\n%s\n%s", before, after)
	}
	// Reads are not limited; another caller has its own bucket.
	for range 5 {
		if res := send(operatorToken, http.MethodGet, "/api/v1/scheduling/strategies/definitions", ""); res.StatusCode != http.StatusOK {
			t.Fatalf("a read past the write rate = %d", res.StatusCode)
		}
	}
	if res := write(otherOperatorToken, 3); res.StatusCode != http.StatusOK {
		t.Errorf("another operator's write = %d, want its own bucket", res.StatusCode)
	}
	// A denied request reaches no bucket: the viewer's 403 stays a 403.
	for range 3 {
		if res := write(viewerToken, 4); res.StatusCode != http.StatusForbidden {
			t.Errorf("viewer write = %d, want 403", res.StatusCode)
		}
	}
	env.clock.Advance(time.Second)
	if res := write(operatorToken, 5); res.StatusCode != http.StatusOK {
		t.Errorf("a second later = %d %s; want the refilled token", res.StatusCode, res.Body)
	}
}

func TestAnonymousWritesAreLimitedPerClientAddress(t *testing.T) {
	clock := &fakeClock{now: start}
	cfg := newTestConfig(t, clock)
	cfg.WriteRate, cfg.WriteBurst = 1, 1
	h := New(cfg) // no credentials: the anonymous operator
	write := func(addr string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/scheduling/strategies",
			strings.NewReader(`{"strategies":[{"execution_time":1000,"command_regex":"x"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if got := write("127.0.0.1:40000"); got != http.StatusOK {
		t.Fatalf("first write = %d", got)
	}
	if got := write("127.0.0.1:40001"); got != http.StatusTooManyRequests {
		t.Errorf("second write from the same address, another port = %d, want 429", got)
	}
	if got := write("127.0.0.2:40000"); got != http.StatusOK {
		t.Errorf("write from another address = %d, want 200", got)
	}
}
