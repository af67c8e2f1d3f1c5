package auth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bss-api/bss-api/internal/apperr"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFileRejectsBadLines(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"only,two\n", "line 1: want token,role,name"},
		{"0123456789abcdef,admin,alice\n", `line 1: role "admin"`},
		{"0123456789abcdef,viewer,\n", "line 1: the name is empty"},
		{"# comment\n\nshort,viewer,alice\n", "line 3: the token is 5 bytes"},
		{"0123456789abcdef,viewer,alice\n0123456789abcdef,operator,bob\n", "line 2: the same token as line 1"},
		{"0123456789abcdef,viewer,alice\n,operator,alice\n", "alice has role viewer on an earlier line"},
	} {
		path := filepath.Join(t.TempDir(), "tokens")
		writeFile(t, path, c.content)
		_, err := LoadTokenFile(path, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.content, err, c.want)
		}
	}
}

func TestTokenFileAuthenticatesAndReloads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, "0123456789abcdef,viewer,alice\n,operator,cert-bob\n")
	tf, err := LoadTokenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, ok, err := tf.AuthenticateToken(ctx, "0123456789abcdef")
	if err != nil || !ok || id.Name != "alice" || id.Role != RoleViewer || id.Method != MethodToken {
		t.Fatalf("alice's token = %+v, %v, %v", id, ok, err)
	}
	for _, bad := range []string{"0123456789abcdeF", "", "0123456789abcdef0"} {
		if _, ok, _ := tf.AuthenticateToken(ctx, bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
	// A certificate-only line names a subject, never a token.
	if _, ok, _ := tf.AuthenticateToken(ctx, ""); ok {
		t.Error("the empty token matched a certificate-only line")
	}
	if got := tf.RoleOf("cert-bob"); got != RoleOperator {
		t.Errorf("RoleOf(cert-bob) = %q", got)
	}

	// Replaced the way a Secret mount replaces it: a new file renamed over.
	next := path + ".new"
	writeFile(t, next, "fedcba9876543210,operator,carol\n")
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	tf.reload()
	if _, ok, _ := tf.AuthenticateToken(ctx, "0123456789abcdef"); ok {
		t.Error("a removed token still works after the reload")
	}
	if id, ok, _ := tf.AuthenticateToken(ctx, "fedcba9876543210"); !ok || id.Role != RoleOperator {
		t.Errorf("the new token = %+v, %v", id, ok)
	}
	// A broken file keeps the last good one in force and says why.
	writeFile(t, path, "garbage\n")
	tf.reload()
	if _, ok, _ := tf.AuthenticateToken(ctx, "fedcba9876543210"); !ok {
		t.Error("a broken file dropped the credentials in force")
	}
	if tf.Err() == nil {
		t.Error("a broken file is not reported")
	}
}

func TestTokenFileRunReloadsUntilCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, "0123456789abcdef,viewer,alice\n")
	tf, err := LoadTokenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tf.Run(ctx, time.Millisecond) }()
	writeFile(t, path, "0123456789abcdef,viewer,alice\nfedcba9876543210,operator,carol\n")
	deadline := time.Now().Add(10 * time.Second)
	for tf.Len() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not reloaded")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestRolePermissions(t *testing.T) {
	for _, c := range []struct {
		role Role
		p    Permission
		want bool
	}{
		{RoleScheduler, PostMetrics, true},
		{RoleScheduler, ReadResolved, true},
		{RoleScheduler, ReadProcesses, true},
		{RoleScheduler, ReadLatestMetrics, true},
		{RoleScheduler, ReadDefinitions, false},
		{RoleScheduler, WriteStrategies, false},
		{RoleScheduler, ReadHistory, false},
		{RoleViewer, ReadHistory, true},
		{RoleViewer, ReadAudit, true},
		{RoleViewer, ReadPrometheus, true},
		{RoleViewer, PostMetrics, false},
		{RoleViewer, WriteStrategies, false},
		{RoleViewer, PreviewStrategies, false},
		{RoleOperator, WriteStrategies, true},
		{RoleOperator, DeleteStrategies, true},
		{RoleOperator, PreviewStrategies, true},
		{RoleOperator, ReadDefinitions, true},
		{RoleOperator, PostMetrics, false},
		{Role("root"), ReadHistory, false},
	} {
		if got := Allows(c.role, c.p); got != c.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", c.role, c.p, got, c.want)
		}
	}
	if (Rule{}).Valid() {
		t.Error("the zero Rule counts as a rule")
	}
}

// fakeTokens accepts one token, or fails to decide.
type fakeTokens struct {
	token string
	id    Identity
	err   error
}

func (f fakeTokens) AuthenticateToken(_ context.Context, token string) (Identity, bool, error) {
	if f.err != nil {
		return Identity{}, false, f.err
	}
	return f.id, token == f.token, nil
}

// fakeAuthorizer allows what allow says, or fails to decide.
type fakeAuthorizer struct {
	allow map[Permission]bool
	err   error
}

func (f fakeAuthorizer) Authorize(_ context.Context, _ Identity, p Permission) (bool, error) {
	return f.allow[p], f.err
}

func TestGuardDecisions(t *testing.T) {
	kube := fakeTokens{token: "kube-token", id: Identity{Name: "system:serviceaccount:ops:deployer", Method: MethodKubernetes}}
	static := fakeTokens{token: "static-token", id: Identity{Name: "sched", Method: MethodToken, Role: RoleScheduler}}
	reg := prometheus.NewRegistry()
	g := NewGuard(GuardOptions{
		Tokens:     []TokenAuthenticator{static, kube},
		Authorizer: fakeAuthorizer{allow: map[Permission]bool{ReadDefinitions: true}},
		Registry:   reg,
	})
	req := func(authz string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return r
	}
	for _, c := range []struct {
		name  string
		authz string
		rule  Rule
		want  apperr.Code // "" for allowed
	}{
		{"missing", "", Require(ReadDefinitions), apperr.Unauthenticated},
		{"basic", "Basic YTpi", Require(ReadDefinitions), apperr.Unauthenticated},
		{"bearer without token", "Bearer", Require(ReadDefinitions), apperr.Unauthenticated},
		{"control character", "Bearer a\x01b", Require(ReadDefinitions), apperr.Unauthenticated},
		{"unknown", "Bearer nope", Require(ReadDefinitions), apperr.Unauthenticated},
		{"static role allows", "Bearer static-token", Require(PostMetrics), ""},
		{"static role forbids", "Bearer static-token", Require(WriteStrategies), apperr.Forbidden},
		{"lower-case scheme", "bearer static-token", Require(PostMetrics), ""},
		{"kubernetes identity, authorizer allows", "Bearer kube-token", Require(ReadDefinitions), ""},
		{"kubernetes identity, authorizer denies", "Bearer kube-token", Require(WriteStrategies), apperr.Forbidden},
		{"public without credential", "", Public(), ""},
		{"public with a bad credential", "Bearer nope", Public(), ""},
	} {
		id, err := g.Check(req(c.authz), c.rule)
		if got := codeOrEmpty(err); got != c.want {
			t.Errorf("%s: err = %v (%s), want %q; identity %+v", c.name, err, got, c.want, id)
		}
	}
	if n := testutil.ToFloat64(g.authz.WithLabelValues("token", "denied")); n != 1 {
		t.Errorf("denied decisions for tokens = %v, want 1", n)
	}

	// An API server that cannot be reached refuses, never lets through.
	down := NewGuard(GuardOptions{Tokens: []TokenAuthenticator{static, fakeTokens{err: errors.New("connection refused")}}})
	if _, err := down.Check(req("Bearer kube-token"), Require(ReadDefinitions)); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("token review down: err = %v, want Unavailable", err)
	}
	// ... but a token another method accepts needs no review.
	if _, err := down.Check(req("Bearer static-token"), Require(PostMetrics)); err != nil {
		t.Errorf("static token with the review down: %v", err)
	}
	noDecision := NewGuard(GuardOptions{Tokens: []TokenAuthenticator{kube}, Authorizer: fakeAuthorizer{err: errors.New("timeout")}})
	if _, err := noDecision.Check(req("Bearer kube-token"), Require(ReadDefinitions)); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("access review down: err = %v, want Unavailable", err)
	}
}

func TestOpenGuardAndCertificates(t *testing.T) {
	open := NewGuard(GuardOptions{})
	if id, err := open.Check(httptest.NewRequest(http.MethodPost, "/x", nil), Require(WriteStrategies)); err != nil || id.Method != MethodNone || id.Role != RoleOperator {
		t.Errorf("open guard: %+v, %v", id, err)
	}
	chain := []*x509.Certificate{{Subject: pkix.Name{CommonName: "node-7", Organization: []string{"schedulers"}}}}
	id := CertificateIdentity(chain, func(name string) Role {
		if name == "node-7" {
			return RoleScheduler
		}
		return ""
	})
	if id.Name != "node-7" || id.Role != RoleScheduler || len(id.Groups) != 1 || id.Method != MethodCertificate {
		t.Errorf("certificate identity = %+v", id)
	}
}

func codeOrEmpty(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.CodeOf(err)
}
