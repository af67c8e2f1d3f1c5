package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// TestStrictJSONEveryBody: in every body the server reads, a key given
// twice in one object, or one that matches a field only in case, is a 400
// naming the key, and nothing changes. encoding/json alone would keep the
// last duplicate and match fields in any case, so a body could read as
// "limited to safe-ns" and be stored with no namespace limit.
func TestStrictJSONEveryBody(t *testing.T) {
	env := strategyEnv(t)
	const stored = `{"strategies":[{"name":"safe","execution_time":1000000,"namespaces":["safe-ns"]}]}`
	if res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(stored)); res.StatusCode != http.StatusOK {
		t.Fatalf("POST = %d %s", res.StatusCode, res.Body)
	}
	if res := env.client.Post(t, "/api/v1/metrics", "application/json", []byte(`{"nr_queued":42}`)); res.StatusCode != http.StatusOK {
		t.Fatalf("POST metrics = %d %s", res.StatusCode, res.Body)
	}
	definitions := func(t *testing.T) string {
		t.Helper()
		res := env.client.Get(t, "/api/v1/scheduling/strategies/definitions")
		var got struct {
			Strategies json.RawMessage `json:"strategies"`
		}
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		return string(got.Strategies)
	}
	before := definitions(t)
	samples := func() int {
		recs, _, err := env.cfg.Metrics.Range(context.Background(), metrics.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	const (
		strategies  = "/api/v1/scheduling/strategies"
		definition  = "/api/v1/scheduling/strategies/definitions/safe"
		preview     = "/api/v1/scheduling/strategies/preview"
		metricsPath = "/api/v1/metrics"
		twice       = "the key is given more than once in one object"
	)
	tests := []struct {
		name, method, path, body, want string
	}{
		{"POST: namespaces twice", http.MethodPost, strategies,
			`{"strategies":[{"name":"safe","execution_time":1000000,"namespaces":["safe-ns"],"namespaces":[]}]}`, "strategies[0].namespaces: " + twice},
		{"POST: strategies twice", http.MethodPost, strategies,
			`{"strategies":[{"name":"safe","execution_time":1000000,"namespaces":["safe-ns"]}],"strategies":[]}`, "strategies: " + twice},
		{"POST: Priority", http.MethodPost, strategies,
			`{"strategies":[{"name":"safe","execution_time":1000000,"namespaces":["safe-ns"],"Priority":true}]}`,
			`strategies[0].Priority: unknown field; field names are case-sensitive: did you mean "priority"?`},
		{"POST: label_selector matchLabels twice", http.MethodPost, strategies,
			`{"strategies":[{"execution_time":1000000,"label_selector":{"matchLabels":{"app":"a"},"matchLabels":{}}}]}`, "strategies[0].label_selector.matchLabels: " + twice},
		{"POST: a label twice", http.MethodPost, strategies,
			`{"strategies":[{"execution_time":1000000,"label_selector":{"matchLabels":{"app":"a","app":"b"}}}]}`, "strategies[0].label_selector.matchLabels.app: " + twice},
		{"POST: matchExpressions in another case", http.MethodPost, strategies,
			`{"strategies":[{"execution_time":1000000,"label_selector":{"MatchExpressions":[]}}]}`, `did you mean "matchExpressions"?`},
		{"POST: selectors item value twice", http.MethodPost, strategies,
			`{"strategies":[{"execution_time":1000000,"selectors":[{"key":"app","value":"a","value":"b"}]}]}`, "strategies[0].selectors[0].value: " + twice},
		{"POST: selectors item Key", http.MethodPost, strategies,
			`{"strategies":[{"execution_time":1000000,"selectors":[{"Key":"app","value":"a"}]}]}`, `strategies[0].selectors[0].Key: unknown field`},
		{"PUT: namespaces twice", http.MethodPut, definition,
			`{"execution_time":1000000,"namespaces":["safe-ns"],"namespaces":[]}`, "namespaces: " + twice},
		{"PUT: Priority", http.MethodPut, definition,
			`{"execution_time":1000000,"namespaces":["safe-ns"],"Priority":true}`, `Priority: unknown field; field names are case-sensitive`},
		{"PUT: expression values twice", http.MethodPut, definition,
			`{"execution_time":1000000,"label_selector":{"matchExpressions":[{"key":"a","operator":"In","values":["x"],"values":[]}]}}`,
			"label_selector.matchExpressions[0].values: " + twice},
		{"preview: namespaces twice", http.MethodPost, preview,
			`{"strategies":[{"execution_time":1000000,"namespaces":["safe-ns"],"namespaces":[]}]}`, "strategies[0].namespaces: " + twice},
		{"preview: Priority", http.MethodPost, preview,
			`{"strategies":[{"execution_time":1000000,"namespaces":["safe-ns"],"Priority":true}]}`, `strategies[0].Priority: unknown field`},
		{"metrics: a counter twice", http.MethodPost, metricsPath, `{"nr_queued":1,"nr_queued":2}`, "nr_queued: duplicate field: " + twice},
		{"metrics: an unknown key twice", http.MethodPost, metricsPath, `{"nr_queued":1,"extra":1,"extra":2}`, "extra: duplicate field"},
		{"metrics: a key twice inside an unknown one", http.MethodPost, metricsPath, `{"nr_queued":1,"extra":{"a":1,"a":2}}`, "extra.a: duplicate field"},
		{"metrics: a counter in another case", http.MethodPost, metricsPath, `{"NR_QUEUED":1}`,
			`NR_QUEUED: unknown field; field names are case-sensitive: did you mean "nr_queued"?`},
		{"metrics: a batch item's counter in another case", http.MethodPost, metricsPath, `[{"nr_queued":1},{"Nr_Running":2}]`,
			`[1].Nr_Running: unknown field; field names are case-sensitive: did you mean "nr_running"?`},
	}
	var ex []exchange
	for _, tt := range tests {
		ex = append(ex, exchange{name: tt.name, method: tt.method, path: tt.path, contentType: "application/json", body: tt.body,
			wantStatus: http.StatusBadRequest, check: func(t *testing.T, res *contract.Response) {
				errorContains(tt.want)(t, res)
				syncStrategies(t, env.cfg)
				if got := definitions(t); got != before {
					t.Errorf("definitions changed to %s", got)
				}
				if n := samples(); n != 1 {
					t.Errorf("%d samples stored, want the first one only", n)
				}
			}})
	}
	run(t, env, ex)
}
