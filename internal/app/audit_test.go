package app

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/testsupport/apitest"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// Tokens of auditTokens.
const (
	auditOperator = "operator-token-for-audit-tests"
	auditViewer   = "viewer-token-for-audit-tests-0"
)

// auditArgs are the arguments of a server with static tokens for an
// operator (bob) and a viewer (alice), on the fixture /proc, on store.
func auditArgs(t *testing.T, store string) []string {
	t.Helper()
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte(auditOperator+",operator,bob\n"+auditViewer+",viewer,alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--store=" + store, "--token-auth-file=" + tokens, "--kube-mode=off", "--cgroup-root=" + t.TempDir(),
		"--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")}
}

// as makes a request with a bearer token; body, when not empty, is JSON.
func as(t *testing.T, srv *testServer, token, method, path, body string) *apitest.Response {
	t.Helper()
	var b []byte
	ct := ""
	if body != "" {
		b, ct = []byte(body), "application/json"
	}
	req := srv.API.NewRequest(t, method, path, ct, b)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return srv.API.Do(t, req)
}

// auditEntry is what these tests read of an audit record.
type auditEntry struct {
	Node, Identity, Role, Credential, Method, Path, Outcome string
	Status                                                  int
	Change                                                  *struct{ After []struct{ Name string } }
}

// auditOf reads srv's audit trail (all of it) as alice.
func auditOf(t *testing.T, srv *testServer) []auditEntry {
	t.Helper()
	res := as(t, srv, auditViewer, http.MethodGet, "/api/v1/audit?limit=1000", "")
	var v struct{ Records []auditEntry }
	if err := json.Unmarshal(res.Body, &v); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/audit = %d %s", res.StatusCode, res.Body)
	}
	return v.Records
}

// auditLines returns the server's msg=audit log lines.
func auditLines(t *testing.T, srv *testServer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(srv.Logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// TestAuditTrailSQLite: a change and two refused writes are on record, in
// the log, in /metrics, and still on record after a restart.
func TestAuditTrailSQLite(t *testing.T) {
	args := auditArgs(t, "sqlite:"+filepath.Join(t.TempDir(), "state.db"))
	srv := startServer(t, nil, args...)
	if res := as(t, srv, auditOperator, http.MethodPut, "/api/v1/scheduling/strategies/definitions/loki", `{"execution_time":7000000,"command_regex":"^loki$"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT as bob = %d %s", res.StatusCode, res.Body)
	}
	if res := as(t, srv, auditViewer, http.MethodPost, "/api/v1/scheduling/strategies", `{"strategies":[]}`); res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST as alice = %d %s", res.StatusCode, res.Body)
	}
	if res := as(t, srv, "", http.MethodDelete, "/api/v1/scheduling/strategies/definitions/loki", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("DELETE without a token = %d %s", res.StatusCode, res.Body)
	}

	check := func(got []auditEntry) {
		t.Helper()
		if len(got) != 3 {
			t.Fatalf("%d records, want 3: %+v", len(got), got)
		}
		if r := got[0]; r.Identity != "bob" || r.Credential != "token" || r.Outcome != "allowed" || r.Status != 201 || r.Node != "test-node" ||
			r.Change == nil || len(r.Change.After) != 1 || r.Change.After[0].Name != "loki" {
			t.Errorf("the change = %+v", r)
		}
		if r := got[1]; r.Identity != "alice" || r.Role != "viewer" || r.Outcome != "denied" || r.Status != 403 || r.Method != http.MethodPost {
			t.Errorf("the 403 = %+v", r)
		}
		if r := got[2]; r.Identity != "" || r.Credential != "none" || r.Outcome != "denied" || r.Status != 401 || r.Path != "/api/v1/scheduling/strategies/definitions/loki" {
			t.Errorf("the 401 = %+v", r)
		}
	}
	check(auditOf(t, srv))
	if lines := auditLines(t, srv); len(lines) != 3 || lines[0]["identity"] != "bob" || lines[1]["status"] != 403.0 {
		t.Errorf("audit log lines = %v", lines)
	}
	metrics := string(as(t, srv, auditViewer, http.MethodGet, "/metrics", "").Body)
	for _, want := range []string{`bss_audit_records_total{outcome="allowed"} 1`, `bss_audit_records_total{outcome="denied"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	stopServer(t, srv)
	check(auditOf(t, startServer(t, nil, args...)))
}

// TestAuditTrailSharedPostgres: two servers on one PostgreSQL each see the
// records the other made, each with its node.
func TestAuditTrailSharedPostgres(t *testing.T) {
	dsn := testenv.StartPostgres(t)
	a := startServer(t, nil, append(auditArgs(t, dsn), "--node-name=node-a")...)
	b := startServer(t, nil, append(auditArgs(t, dsn), "--node-name=node-b")...)

	if res := as(t, a, auditOperator, http.MethodPut, "/api/v1/scheduling/strategies/definitions/loki", `{"execution_time":7000000,"command_regex":"^loki$"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT through a = %d %s", res.StatusCode, res.Body)
	}
	if res := as(t, b, auditViewer, http.MethodDelete, "/api/v1/scheduling/strategies/definitions/loki", ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("DELETE as alice through b = %d %s", res.StatusCode, res.Body)
	}
	for _, srv := range []*testServer{a, b} {
		got := auditOf(t, srv)
		if len(got) != 2 || got[0].Node != "node-a" || got[0].Identity != "bob" || got[0].Outcome != "allowed" ||
			got[1].Node != "node-b" || got[1].Identity != "alice" || got[1].Status != 403 {
			t.Errorf("records read through %s = %+v; want bob's change on node-a, then alice's refusal on node-b", srv.URL, got)
		}
	}
}
