package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// The monitoring files the chart ships, below charts/bss-api.
const (
	alertsFile    = "files/alerts.yaml"
	dashboardFile = "files/dashboard.json"
)

// chartFile is the path of rel below charts/bss-api.
func chartFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), "charts", "bss-api", rel)
}

// promtoolBin finds promtool: BSS_PROMTOOL_BIN, else next to
// BSS_PROMETHEUS_BIN, else on PATH; it skips (strict: fails) without one.
func promtoolBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BSS_PROMTOOL_BIN"); p != "" {
		return p
	}
	if prom := os.Getenv("BSS_PROMETHEUS_BIN"); prom != "" {
		if p := filepath.Join(filepath.Dir(prom), "promtool"); fileExists(p) {
			return p
		}
	}
	return testenv.Binary(t, "BSS_PROMTOOL_BIN", "promtool")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestAlertRulesPromtool checks the rules file with promtool and runs its
// unit tests (charts/bss-api/tests/alerts_*_test.yaml), which hold every
// alert firing and not firing.
func TestAlertRulesPromtool(t *testing.T) {
	bin := promtoolBin(t)
	if out, err := exec.Command(bin, "check", "rules", chartFile(t, alertsFile)).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests, err := filepath.Glob(chartFile(t, "tests/alerts_*_test.yaml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool tests found: %v", err)
	}
	// Every alert has a test that expects it to fire.
	rules := alertRules(t)
	for _, r := range rules {
		found := false
		for _, f := range tests {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found = found || strings.Contains(string(b), "alertname: "+r.Alert+"\n")
		}
		if !found {
			t.Errorf("alert %s has no promtool test", r.Alert)
		}
	}
	out, err := exec.Command(bin, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("promtool test rules:\n%s", out)
}

type alertRule struct {
	Alert string `json:"alert"`
	Expr  string `json:"expr"`
}

// alertRules reads every alerting rule of the rules file.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(chartFile(t, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return rules
}

// dashboardQuery is one PromQL expression of the dashboard, with where it is.
type dashboardQuery struct {
	where string
	expr  string
	label string // for a label_values() variable: the label it lists
}

// labelValues matches a Grafana label_values(query, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// dashboardQueries extracts every expression of the dashboard: each panel's
// targets (rows' nested panels too) and each query variable.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(chartFile(t, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string
		Targets []struct {
			RefID string
			Expr  string
		}
		Panels []json.RawMessage
	}
	var d struct {
		SchemaVersion int
		Panels        []json.RawMessage
		Templating    struct {
			List []struct {
				Name  string
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var qs []dashboardQuery
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardFile, err)
			}
			for _, tg := range p.Targets {
				qs = append(qs, dashboardQuery{where: "panel " + p.Title + " target " + tg.RefID, expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("%s: variable %s: %v", dashboardFile, v.Name, err)
			}
		}
		dq := dashboardQuery{where: "variable " + v.Name, expr: q.Query}
		if m := labelValues.FindStringSubmatch(q.Query); m != nil {
			dq.expr, dq.label = m[1], m[2]
		}
		qs = append(qs, dq)
	}
	for _, q := range qs {
		if strings.TrimSpace(q.expr) == "" {
			t.Errorf("%s: empty expression", q.where)
		}
	}
	return qs
}

// grafanaVars replaces the variables Grafana fills in with what it would
// send for the test's node.
func grafanaVars(node string) *strings.Replacer {
	return strings.NewReplacer(
		"${node}", node, "$node", node,
		"$__rate_interval", "15s", "$__interval", "5s", "$__range", "5m",
	)
}

// TestMonitoringQueriesOnRealPrometheus runs a real Prometheus scraping a
// real server that receives samples, strategies and requests, then runs
// every dashboard expression through Prometheus (each must parse and
// return data) and every alert expression (each must parse).
func TestMonitoringQueriesOnRealPrometheus(t *testing.T) {
	bin := testenv.Binary(t, "BSS_PROMETHEUS_BIN", "prometheus")
	const node = "dash-node"
	srv := startServer(t, nil, "--node-name="+node, "--kube-mode=off")
	prom := startPrometheus(t, bin, strings.TrimPrefix(srv.URL, "http://"))
	if code, body := postJSON(t, srv.URL+"/api/v1/scheduling/strategies",
		`{"strategies":[{"name":"ghost","priority":true,"execution_time":20000000,"pid":999999}]}`); code != http.StatusOK {
		t.Fatalf("POST strategies = %d %s", code, body)
	}

	// Push like a scheduler, and read like a client, until the test ends.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, req := range []struct{ method, path, body string }{
				{http.MethodPost, "/api/v1/metrics", seedMetrics},
				{http.MethodGet, "/api/v1/scheduling/strategies", ""},
				{http.MethodGet, "/health", ""},
			} {
				if err := doRequest(ctx, req.method, srv.URL+req.path, req.body); err != nil && ctx.Err() == nil {
					t.Errorf("%s %s: %v", req.method, req.path, err)
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { stop(); <-done }()

	vars := grafanaVars(node)
	for _, q := range dashboardQueries(t) {
		expr := vars.Replace(q.expr)
		if strings.Contains(expr, "$") {
			t.Errorf("%s: a variable is left unreplaced in %q", q.where, expr)
			continue
		}
		var last []promSample
		ok := pollOK(45*time.Second, func() bool {
			last = promInstant(t, prom, expr)
			if q.label == "" {
				return len(last) > 0
			}
			for _, s := range last {
				if s.Metric[q.label] == node {
					return true
				}
			}
			return false
		})
		if !ok {
			t.Errorf("%s: %s returned no data (last: %v)", q.where, expr, last)
		}
	}
	for _, r := range alertRules(t) {
		promInstant(t, prom, r.Expr) // fails the test unless it parses and runs
	}
}

// pollOK calls cond every 250 ms until it holds or bound passes.
func pollOK(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func doRequest(ctx context.Context, method, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + http.StatusText(e.code) }

type promSample struct {
	Metric map[string]string
	Value  [2]any
}

// promInstant runs an instant query and returns its samples (a vector or a
// scalar); it fails t unless Prometheus accepts the query.
func promInstant(t *testing.T, base, query string) []promSample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatalf("query Prometheus: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     json.RawMessage
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" {
		t.Fatalf("query %q: status %q error %q decode %v", query, out.Status, out.Error, err)
	}
	if out.Data.ResultType == "scalar" {
		return []promSample{{}}
	}
	var res []promSample
	if err := json.Unmarshal(out.Data.Result, &res); err != nil {
		t.Fatalf("query %q: result: %v", query, err)
	}
	return res
}
