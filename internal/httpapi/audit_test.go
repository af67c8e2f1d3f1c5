package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// auditView is what a client reads of GET /api/v1/audit.
type auditView struct {
	Count     int           `json:"count"`
	HasMore   bool          `json:"has_more"`
	NextSince string        `json:"next_since"`
	Records   []auditRecord `json:"records"`
}

type auditRecord struct {
	At         string       `json:"at"`
	Node       string       `json:"node"`
	Identity   string       `json:"identity"`
	Role       string       `json:"role"`
	Credential string       `json:"credential"`
	Method     string       `json:"method"`
	Route      string       `json:"route"`
	Path       string       `json:"path"`
	Client     string       `json:"client"`
	Outcome    string       `json:"outcome"`
	Status     int          `json:"status"`
	Reason     string       `json:"reason"`
	Suppressed int          `json:"suppressed"`
	Change     *auditChange `json:"change"`
}

type auditChange struct {
	Before      []map[string]any `json:"before"`
	After       []map[string]any `json:"after"`
	BeforeCount int              `json:"before_count"`
	AfterCount  int              `json:"after_count"`
	Truncated   bool             `json:"truncated"`
}

// call makes a request with token (none when empty) and body (JSON when
// not empty).
func call(t *testing.T, env *testEnv, method, path, token, body string) *contract.Response {
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
	return env.client.Do(t, req)
}

// readAudit reads one page of the audit trail with token.
func readAudit(t *testing.T, env *testEnv, token, query string) auditView {
	t.Helper()
	res := call(t, env, http.MethodGet, "/api/v1/audit"+query, token, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/audit%s = %d %s", query, res.StatusCode, res.Body)
	}
	var v auditView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Records == nil || v.Count != len(v.Records) {
		t.Fatalf("records %v, count %d", v.Records, v.Count)
	}
	return v
}

// recordedNames renders recorded definitions as name=execution_time.
func recordedNames(defs []map[string]any) string {
	var out []string
	for _, d := range defs {
		out = append(out, fmt.Sprintf("%v=%v", d["name"], d["execution_time"]))
	}
	return strings.Join(out, ",")
}

// Every committed strategy write is on record: who made it, with which
// credential, through which route, and the definitions before and after.
func TestAuditRecordsChanges(t *testing.T) {
	env := guardedEnv(t)
	const defs = "/api/v1/scheduling/strategies/definitions/"
	steps := []struct {
		method, path, body string
		status             int
	}{
		{"PUT", defs + "upf", `{"execution_time":1000,"command_regex":"^upf$"}`, 201},
		{"PUT", defs + "upf", `{"execution_time":2000,"command_regex":"^upf$"}`, 200},
		{"POST", "/api/v1/scheduling/strategies", `{"strategies":[{"name":"upf","execution_time":2000,"command_regex":"^upf$"},{"name":"gnb","execution_time":3000,"pid":7}]}`, 200},
		{"DELETE", defs + "upf", "", 200},
	}
	for _, s := range steps {
		if res := call(t, env, s.method, s.path, operatorToken, s.body); res.StatusCode != s.status {
			t.Fatalf("%s %s = %d %s, want %d", s.method, s.path, res.StatusCode, res.Body, s.status)
		}
	}

	v := readAudit(t, env, viewerToken, "")
	want := []struct {
		method, route, path string
		status              int
		before, after       string
		beforeN, afterN     int
	}{
		{"PUT", "/api/v1/scheduling/strategies/definitions/{name}", defs + "upf", 201, "", "upf=1000", 0, 1},
		{"PUT", "/api/v1/scheduling/strategies/definitions/{name}", defs + "upf", 200, "upf=1000", "upf=2000", 1, 1},
		{"POST", "/api/v1/scheduling/strategies", "/api/v1/scheduling/strategies", 200, "upf=2000", "upf=2000,gnb=3000", 1, 2},
		{"DELETE", "/api/v1/scheduling/strategies/definitions/{name}", defs + "upf", 200, "upf=2000", "", 1, 0},
	}
	if len(v.Records) != len(want) || v.HasMore {
		t.Fatalf("%d records (more: %v), want %d: %+v", len(v.Records), v.HasMore, len(want), v.Records)
	}
	for i, w := range want {
		r := v.Records[i]
		if r.Identity != "bob" || r.Role != "operator" || r.Credential != "token" || r.Node != "test-node" || r.Outcome != "allowed" ||
			!strings.HasPrefix(r.Client, "127.0.0.1:") {
			t.Errorf("record %d: who = %+v, want bob (operator, token) from 127.0.0.1 on test-node, allowed", i, r)
		}
		if r.Method != w.method || r.Route != w.route || r.Path != w.path || r.Status != w.status {
			t.Errorf("record %d: %s %s (%s) %d, want %s %s (%s) %d", i, r.Method, r.Route, r.Path, r.Status, w.method, w.route, w.path, w.status)
		}
		c := r.Change
		if c == nil || recordedNames(c.Before) != w.before || recordedNames(c.After) != w.after || c.BeforeCount != w.beforeN ||
			c.AfterCount != w.afterN || c.Truncated {
			t.Errorf("record %d: change %+v, want before %q after %q (%d, %d)", i, c, w.before, w.after, w.beforeN, w.afterN)
		}
	}
	if m := string(call(t, env, http.MethodGet, "/metrics", viewerToken, "").Body); !strings.Contains(m, `bss_audit_records_total{outcome="allowed"} 4`) {
		t.Errorf("/metrics does not count the 4 records:\n%s", m)
	}
}

// Writes refused before their handler ran are on record, with what is
// known of the caller; refused reads and refused requests that are not
// writes are not.
func TestAuditRecordsRefusals(t *testing.T) {
	env := guardedEnv(t)
	const write = `{"strategies":[{"name":"a","execution_time":1000,"command_regex":"x"}]}`
	refused := []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", "/api/v1/scheduling/strategies", "", write, 401},
		{"POST", "/api/v1/scheduling/strategies", "no-such-token-0123456789", write, 401},
		{"POST", "/api/v1/scheduling/strategies", viewerToken, write, 403},
		{"PUT", "/api/v1/scheduling/strategies/definitions/a", schedulerToken, `{"execution_time":1000,"pid":1}`, 403},
		{"DELETE", "/api/v1/scheduling/strategies/definitions/a", viewerToken, "", 403},
		{"POST", "/api/v1/scheduling/strategies/preview", viewerToken, write, 403},
		{"POST", "/api/v1/metrics", viewerToken, `{"nr_queued":1}`, 403},
		// Reads are not followed, allowed or not.
		{"GET", "/api/v1/scheduling/strategies/definitions", schedulerToken, "", 403},
		{"GET", "/api/v1/scheduling/strategies/definitions", "", "", 401},
		{"GET", "/api/v1/audit", schedulerToken, "", 403},
	}
	for _, r := range refused {
		if res := call(t, env, r.method, r.path, r.token, r.body); res.StatusCode != r.status {
			t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, res.StatusCode, res.Body, r.status)
		}
	}
	v := readAudit(t, env, viewerToken, "")
	want := []struct{ identity, role, credential, method, path string }{
		{"", "", "none", "POST", "/api/v1/scheduling/strategies"},
		{"", "", "bearer", "POST", "/api/v1/scheduling/strategies"},
		{"alice", "viewer", "token", "POST", "/api/v1/scheduling/strategies"},
		{"sched", "scheduler", "token", "PUT", "/api/v1/scheduling/strategies/definitions/a"},
		{"alice", "viewer", "token", "DELETE", "/api/v1/scheduling/strategies/definitions/a"},
		{"alice", "viewer", "token", "POST", "/api/v1/scheduling/strategies/preview"},
		{"alice", "viewer", "token", "POST", "/api/v1/metrics"},
	}
	if len(v.Records) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(v.Records), len(want), v.Records)
	}
	for i, w := range want {
		r := v.Records[i]
		got := []string{r.Identity, r.Role, r.Credential, r.Method, r.Path}
		if strings.Join(got, "|") != strings.Join([]string{w.identity, w.role, w.credential, w.method, w.path}, "|") {
			t.Errorf("record %d = %v, want %+v", i, got, w)
		}
		if r.Outcome != "denied" || r.Status != refused[i].status || r.Change != nil || r.Reason == "" {
			t.Errorf("record %d: outcome %s status %d change %v reason %q; want denied %d, no change, a reason",
				i, r.Outcome, r.Status, r.Change, r.Reason, refused[i].status)
		}
	}
	if r := v.Records[2]; !strings.Contains(r.Reason, "alice (role viewer) may not update strategies") {
		t.Errorf("403 reason = %q, want what alice was told", r.Reason)
	}
	if r := v.Records[1]; strings.Contains(r.Reason, "no-such-token") {
		t.Errorf("a refused token is on record: %q", r.Reason)
	}
}

func TestAuditPaging(t *testing.T) {
	env := newTestEnv(t, newValidator(t), nil) // the clock stands still: records are a nanosecond apart
	for i := range 5 {
		body := fmt.Sprintf(`{"execution_time":%d,"pid":1}`, 1000+i)
		if res := call(t, env, http.MethodPut, "/api/v1/scheduling/strategies/definitions/s", "", body); res.StatusCode >= 300 {
			t.Fatalf("PUT = %d %s", res.StatusCode, res.Body)
		}
	}
	var got []string
	query := "?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		v := readAudit(t, env, "", query)
		for _, r := range v.Records {
			if r.Identity != "anonymous" || r.Credential != "none" || r.Role != "operator" {
				t.Errorf("without credential methods the caller is %q (%s, %s), want the anonymous operator", r.Identity, r.Role, r.Credential)
			}
			got = append(got, recordedNames(r.Change.After))
		}
		if !v.HasMore {
			if v.NextSince != "" {
				t.Errorf("last page has next_since %q", v.NextSince)
			}
			break
		}
		if len(v.Records) != 2 || v.NextSince == "" {
			t.Fatalf("page of %d records, more, next_since %q", len(v.Records), v.NextSince)
		}
		query = "?limit=2&since=" + url.QueryEscape(v.NextSince)
	}
	if want := "s=1000 s=1001 s=1002 s=1003 s=1004"; strings.Join(got, " ") != want {
		t.Errorf("pages held %v, want %s: every record once, oldest first", got, want)
	}
	if v := readAudit(t, env, "", "?since=1h&limit=1000"); v.Count != 5 {
		t.Errorf("since=1h: %d records, want 5", v.Count)
	}
	if v := readAudit(t, env, "", "?until="+url.QueryEscape(start.Add(time.Nanosecond).Format(time.RFC3339Nano))); v.Count != 1 {
		t.Errorf("until the second record: %d records, want 1", v.Count)
	}
}

func TestAuditBadParameters(t *testing.T) {
	env := newTestEnv(t, newValidator(t), nil)
	for _, tt := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"},
		{"since=yesterday", "since"}, {"until=-5m", "until"},
		{"since=2025-06-19T10:00:00Z&until=2025-06-19T09:00:00Z", "until"}, {"since=1h&until=1h", "until"},
		{"since=1000-01-01T00:00:00Z", "since"}, {"until=3000-01-01T00:00:00Z", "until"},
	} {
		res := env.client.Get(t, "/api/v1/audit?"+tt.query)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), tt.field+":") {
			t.Errorf("?%s = %d %s, want 400 naming %s", tt.query, res.StatusCode, res.Body, tt.field)
		}
	}
	if res := env.client.Get(t, "/api/v1/audit?limit=1000"); res.StatusCode != http.StatusOK {
		t.Errorf("limit=1000 = %d %s, want 200", res.StatusCode, res.Body)
	}
}

// fakeRefusals keeps the refusals reported to it.
type fakeRefusals struct{ got []audit.Refusal }

func (f *fakeRefusals) Refused(_ context.Context, r audit.Refusal) { f.got = append(f.got, r) }

// refused is what the write rate limiter calls for a 429: it records the
// identity it is given, and ignores what is not a refused write.
func TestRefusedTakesWhatALimiterReports(t *testing.T) {
	rec := &fakeRefusals{}
	a := refusals{rec: rec}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/scheduling/strategies", nil)
	req.Pattern = "POST /api/v1/scheduling/strategies"
	req.RemoteAddr = "192.0.2.1:5000"
	bob := auth.Identity{Name: "bob", Role: auth.RoleOperator, Method: auth.MethodToken}
	tooMany := apperr.Errorf(apperr.TooMany, "too many writes; retry in 2s")

	a.refused(req, bob, tooMany)
	a.refused(req, bob, apperr.Errorf(apperr.Unavailable, "cannot check permissions now"))
	a.refused(req, bob, apperr.Errorf(apperr.Invalid, "bad"))
	get := req.Clone(req.Context())
	get.Method = http.MethodGet
	a.refused(get, bob, tooMany)
	refusals{}.refused(req, bob, tooMany) // without a trail: nothing, no panic

	want := audit.Refusal{Identity: bob, Status: 429, Reason: "too many writes; retry in 2s",
		Request: audit.Request{Method: "POST", Route: "/api/v1/scheduling/strategies", Path: "/api/v1/scheduling/strategies", Client: "192.0.2.1:5000"}}
	if len(rec.got) != 1 || !reflect.DeepEqual(rec.got[0], want) {
		t.Errorf("recorded %+v, want only %+v", rec.got, want)
	}
}

// A strategy write refused by the rate limit is on record as a 429 of the
// caller it limited.
func TestAuditRecordsRateLimitedWrites(t *testing.T) {
	env := limitedEnv(t) // two writes at once, and the clock stands still
	for i := range 3 {
		body := fmt.Sprintf(`{"strategies":[{"name":"s%d","execution_time":1000,"command_regex":"x"}]}`, i)
		want := http.StatusOK
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if res := call(t, env, http.MethodPost, "/api/v1/scheduling/strategies", operatorToken, body); res.StatusCode != want {
			t.Fatalf("write %d = %d %s, want %d", i, res.StatusCode, res.Body, want)
		}
	}
	v := readAudit(t, env, viewerToken, "")
	if len(v.Records) != 3 {
		t.Fatalf("%d records, want 2 changes and a 429: %+v", len(v.Records), v.Records)
	}
	r := v.Records[2]
	if r.Outcome != "denied" || r.Status != 429 || r.Identity != "bob" || r.Role != "operator" || r.Credential != "token" ||
		r.Route != "/api/v1/scheduling/strategies" || !strings.Contains(r.Reason, "too many strategy writes") {
		t.Errorf("the 429 = %+v", r)
	}
}

// A write refused by the Host check (DNS rebinding, on a server without
// credentials) is on record with its route; refused reads and requests
// for no route are not.
func TestAuditRecordsRefusedHosts(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.AllowHost = config.IsLoopbackHost
	h := New(cfg)
	do := func(method, path, host string) int {
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader(`{"strategies":[]}`)
		}
		req := httptest.NewRequest(method, path, body)
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/scheduling/strategies"},
		{http.MethodGet, "/api/v1/scheduling/strategies/definitions"},
		{http.MethodPost, "/no/such/path"},
	} {
		if code := do(r.method, r.path, "rebind.attacker.example"); code != http.StatusForbidden {
			t.Fatalf("%s %s with a foreign Host = %d, want 403", r.method, r.path, code)
		}
	}
	recs, _, err := cfg.Audit.Range(context.Background(), audit.Query{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("records = %+v, %v; want the refused write only", recs, err)
	}
	if r := recs[0]; r.Outcome != audit.Denied || r.Status != 403 || r.Route != "/api/v1/scheduling/strategies" ||
		r.Credential != auth.MethodNone || r.Identity != "" || !strings.Contains(r.Reason, "rebind.attacker.example") {
		t.Errorf("the refused host = %+v", r)
	}
}
