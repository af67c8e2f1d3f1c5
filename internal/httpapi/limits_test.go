package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// attackRegex is the issue's: 945 bytes compiling to 43,002 instructions.
var attackRegex = strings.Repeat(`(?:(?:a{10}){10}){10}`, 43)

func strategiesBody(n int, edit func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `{"execution_time":1000000,` + edit(i) + `}`
	}
	return `{"strategies":[` + strings.Join(parts, ",") + `]}`
}

func quoted(items []string) string {
	b, _ := json.Marshal(items)
	return string(b)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// TestStrategyLimitsOverHTTP: every write route and preview refuse what
// costs more than the limits with a 400 naming the limit and its flag,
// and nothing is stored.
func TestStrategyLimitsOverHTTP(t *testing.T) {
	env := strategyEnv(t)
	const (
		strategies = "/api/v1/scheduling/strategies"
		preview    = "/api/v1/scheduling/strategies/preview"
		definition = "/api/v1/scheduling/strategies/definitions/big"
	)
	attack := strategiesBody(100, func(int) string { return `"command_regex":"` + attackRegex + `"` })
	previewAttack := strategiesBody(1000, func(int) string { return `"command_regex":"` + attackRegex + `"` })
	tests := []struct{ name, method, path, body, want string }{
		{"POST: the issue's 99 KB of regex", http.MethodPost, strategies, attack,
			"strategies[0] (strategy-1).command_regex: compiles to at least 21501 instructions, at most 2000 allowed (--max-regex-instructions)"},
		{"preview: the issue's 1,000 strategies", http.MethodPost, preview, previewAttack, "and 980 more problems"},
		{"POST: 101 namespaces", http.MethodPost, strategies, strategiesBody(1, func(int) string { return `"namespaces":` + quoted(names("ns", 101)) }),
			"strategies[0] (strategy-1).namespaces: 101 given, at most 100 allowed (--max-strategy-list-items)"},
		{"PUT: 101 values", http.MethodPut, definition,
			`{"execution_time":1000000,"label_selector":{"matchExpressions":[{"key":"app","operator":"In","values":` + quoted(names("v", 101)) + `}]}}`,
			"label_selector.matchExpressions[0].values: 101 given, at most 100 allowed (--max-strategy-list-items)"},
		{"PUT: a long regex", http.MethodPut, definition, `{"execution_time":1000000,"command_regex":"` + strings.Repeat("a", 1025) + `"}`,
			"command_regex: 1025 bytes, at most 1024 allowed (--max-regex-bytes)"},
		{"POST: 1001 strategies", http.MethodPost, strategies, strategiesBody(1001, func(i int) string { return fmt.Sprintf(`"pid":%d`, i+1) }),
			"strategies: 1001 given, at most 1000 allowed (--max-strategies)"},
	}
	var ex []exchange
	for _, tt := range tests {
		ex = append(ex, exchange{name: tt.name, method: tt.method, path: tt.path, contentType: "application/json", body: tt.body,
			wantStatus: http.StatusBadRequest, check: func(t *testing.T, res *contract.Response) {
				errorContains(tt.want)(t, res)
				if len(res.Body) > 16<<10 {
					t.Errorf("a %d-byte error", len(res.Body))
				}
				if defs, _ := env.cfg.Strategies.Definitions(context.Background()); len(defs) != 0 {
					t.Errorf("%d strategies stored", len(defs))
				}
			}})
	}
	run(t, env, ex)
}

// TestDefinitionsListUnreadable: a stored definition the server cannot
// read is listed by its name and why, as the OpenAPI document says.
func TestDefinitionsListUnreadable(t *testing.T) {
	store := &memory.Strategies{}
	if _, err := store.Replace(context.Background(), []strategy.Strategy{
		strategy.UnmarshalStored("old", []byte(`{"name":"old","execution_time":1000,"pid":1,"pid":2}`)),
		{Name: "ok", ExecutionTime: 1000, PID: 1},
	}); err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, newValidator(t), func(cfg *Config) { useStrategies(t, cfg, strategySetup{store: store}) })
	res := env.client.Get(t, "/api/v1/scheduling/strategies/definitions")
	want := `"strategies":[{"name":"old","unreadable":"pid: the key is given more than once in one object; give each key once"},` +
		`{"name":"ok","priority":false,"execution_time":1000,"pid":1}]`
	if res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), want) {
		t.Errorf("definitions = %d %s, want %s", res.StatusCode, res.Body, want)
	}
}

// busyStrategies answers previews and explanations as a server whose
// resolution slots are all taken.
type busyStrategies struct{ StrategyService }

var errBusy = &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second,
	Message: "too many previews at once: at most 2 previews and explanations resolve at a time (--max-concurrent-previews); retry in 1 s"}

func (busyStrategies) PreviewDecoded(context.Context, func() ([]strategy.Strategy, error)) (*strategy.Snapshot, []strategy.Stamp, error) {
	return nil, nil, errBusy
}

func (busyStrategies) Explain(context.Context) (*strategy.Snapshot, error) { return nil, errBusy }

// TestBusyPreviewIs503WithRetryAfter: the answer a caller gets when the
// resolution slots are taken, as documented.
func TestBusyPreviewIs503WithRetryAfter(t *testing.T) {
	env := newTestEnv(t, newValidator(t), func(cfg *Config) { cfg.Strategies = busyStrategies{cfg.Strategies} })
	check := func(t *testing.T, res *contract.Response) {
		errorContains("(--max-concurrent-previews); retry in 1 s")(t, res)
		if got := res.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
	}
	run(t, env, []exchange{
		{name: "preview", method: http.MethodPost, path: "/api/v1/scheduling/strategies/preview", contentType: "application/json",
			body: seedStrategies, wantStatus: http.StatusServiceUnavailable, check: check},
		{name: "explain", path: "/api/v1/scheduling/strategies/explain", wantStatus: http.StatusServiceUnavailable, check: check},
	})
}
