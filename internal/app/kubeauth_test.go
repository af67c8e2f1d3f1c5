package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/httpapi"
	"github.com/bss-api/bss-api/internal/testsupport/apitest"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// authAudience is the audience the server under test requires of
// Kubernetes tokens.
const authAudience = "bss-api"

// authFixture is a real control plane with the manifest's RBAC applied,
// ServiceAccounts bound to the shipped ClusterRoles, a static token file,
// and a bss-api that checks tokens with TokenReview and permissions with
// SubjectAccessReview as the DaemonSet does: as the manifest's
// ServiceAccount, with exactly its rights.
type authFixture struct {
	t      *testing.T
	cp     *testenv.ControlPlane
	admin  kubernetes.Interface
	ns     string // of the callers' ServiceAccounts
	static map[auth.Role]string
	srv    *testServer
	// The server serves HTTPS with client certificates from tls.ca, and
	// issues scheduler tokens to the holder of schedKey.
	tls        *tlsFixture
	schedKey   *ecdsa.PrivateKey
	signingKey []byte
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx := context.Background()
	cp := testenv.StartControlPlane(t)
	f := &authFixture{t: t, cp: cp, admin: cp.Client(), static: map[auth.Role]string{}}
	applyManifests(t, cp, false, "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
	ns, err := f.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "callers-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.ns = ns.Name

	// Static tokens, and roles for client certificates by common name.
	lines := "# token,role,name\n"
	for _, role := range auth.Roles() {
		f.static[role] = "static-" + string(role) + "-" + testenv.RandomContainerID()[:24]
		lines += f.static[role] + "," + string(role) + ",static-" + string(role) + "\n"
		lines += "," + string(role) + ",cert-" + string(role) + "\n"
	}
	f.tls = newTLSFixture(t)
	if err := os.WriteFile(f.tls.tokenFile, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	// The scheduler's key pair, and the key its tokens are signed with.
	var err2 error
	if f.schedKey, err2 = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err2 != nil {
		t.Fatal(err2)
	}
	pubFile := filepath.Join(t.TempDir(), "scheduler.pub.pem")
	if err := os.WriteFile(pubFile, []byte(f.schedulerPublicPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	f.signingKey = []byte(base64.StdEncoding.EncodeToString([]byte(testenv.RandomContainerID()[:32])))
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(keyFile, f.signingKey, 0o600); err != nil {
		t.Fatal(err)
	}
	// The server's own credentials: a token of the manifest's
	// ServiceAccount, for the API server's audience.
	kubeconfig := cp.WriteKubeconfig("bss-api", f.token("bss-system", "bss-api", nil, nil))
	args := append(f.tls.args(), "--kube-mode=kubeconfig", "--kubeconfig="+kubeconfig, "--node-name=node-authz",
		"--auth-kubernetes", "--auth-token-audiences="+authAudience, "--auth-cache-ttl=10m",
		"--scheduler-public-key-file="+pubFile, "--scheduler-token-key-file="+keyFile)
	f.srv = startServerWith(t, nil, f.tls.client(nil), append(args, unlimitedWrites...)...)
	return f
}

// unlimitedWrites lifts the rate limits: the matrix writes the baseline
// back before every request, and asks for a token with every credential.
var unlimitedWrites = []string{"--write-rate=1000000", "--write-burst=1000000", "--token-rate=1000000", "--token-burst=1000000"}

// schedulerPublicPEM is the scheduler's public key as it sends it.
func (f *authFixture) schedulerPublicPEM() string {
	der, err := x509.MarshalPKIXPublicKey(&f.schedKey.PublicKey)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// schedulerToken gets a token as a scheduler does: POST /api/v1/auth/token.
func (f *authFixture) schedulerToken() string {
	f.t.Helper()
	body, _ := json.Marshal(map[string]string{"public_key": f.schedulerPublicPEM()})
	res := f.srv.API.Post(f.t, "/api/v1/auth/token", "application/json", body)
	var answer struct{ Data struct{ Token string } }
	if err := json.Unmarshal(res.Body, &answer); err != nil || res.StatusCode != http.StatusOK || answer.Data.Token == "" {
		f.t.Fatalf("POST /api/v1/auth/token = %d %s", res.StatusCode, res.Body)
	}
	return answer.Data.Token
}

// expiredSchedulerToken is a token the server signed (same key, same
// public key) that expired a day ago.
func (f *authFixture) expiredSchedulerToken() string {
	f.t.Helper()
	issuer, err := auth.NewSchedulerTokens(auth.SchedulerTokenOptions{
		PublicKey: &f.schedKey.PublicKey, SigningKey: f.signingKey, TTL: 24 * time.Hour,
		Now: func() time.Time { return time.Now().Add(-48 * time.Hour) },
	})
	if err != nil {
		f.t.Fatal(err)
	}
	token, _, err := issuer.Issue(context.Background(), f.schedulerPublicPEM())
	if err != nil {
		f.t.Fatal(err)
	}
	return token
}

// certClient is an API client that presents a client certificate with
// common name cn, signed by the server's client CA.
func (f *authFixture) certClient(cn string) *apitest.Client {
	return apitest.NewClient(apitest.NewValidator(f.t), f.srv.URL, f.tls.client(f.tls.ca.Client(f.t, cn)))
}

// bindUser binds the user name (a client certificate's common name) to a
// role's ClusterRole from k8s/.
func (f *authFixture) bindUser(user string, role auth.Role) {
	f.t.Helper()
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: f.ns + "-user-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bss-api-" + string(role)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := f.admin.RbacV1().ClusterRoleBindings().Create(context.Background(), binding, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// serviceAccount creates a ServiceAccount of the callers' namespace and,
// for a role, binds it to that role's ClusterRole from k8s/.
func (f *authFixture) serviceAccount(name string, role auth.Role) {
	f.t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}}
	if _, err := f.admin.CoreV1().ServiceAccounts(f.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	if role == "" {
		return
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: f.ns + "-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bss-api-" + string(role)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: f.ns}},
	}
	if _, err := f.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// token requests a token of ServiceAccount ns/name for audiences (nil: the
// API server's), bound to an object when bound is not nil.
func (f *authFixture) token(ns, name string, audiences []string, bound *authenticationv1.BoundObjectReference) string {
	f.t.Helper()
	exp := int64(3600)
	tr, err := f.admin.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &exp, BoundObjectRef: bound},
	}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return tr.Status.Token
}

// revokedToken returns a token that was valid (the API server says so) and
// is no longer: it was bound to a Secret that is then deleted.
func (f *authFixture) revokedToken(sa string) string {
	f.t.Helper()
	ctx := context.Background()
	secret, err := f.admin.CoreV1().Secrets(f.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "binding-"}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	token := f.token(f.ns, sa, []string{authAudience}, &authenticationv1.BoundObjectReference{
		Kind: "Secret", APIVersion: "v1", Name: secret.Name, UID: secret.UID,
	})
	if !f.reviewToken(token) {
		f.t.Fatal("a freshly bound token is not valid")
	}
	if err := f.admin.CoreV1().Secrets(f.ns).Delete(ctx, secret.Name, metav1.DeleteOptions{}); err != nil {
		f.t.Fatal(err)
	}
	// The API server caches a valid review for a few seconds.
	waitFor(f.t, 60*time.Second, "the API server to reject the revoked token", func() bool { return !f.reviewToken(token) })
	return token
}

func (f *authFixture) reviewToken(token string) bool {
	f.t.Helper()
	tr, err := f.admin.AuthenticationV1().TokenReviews().Create(context.Background(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{authAudience}},
	}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return tr.Status.Authenticated
}

// matrixCredential is one column of the authorization matrix: how requests
// are sent, and who the server must take the sender for.
type matrixCredential struct {
	name string
	// authorize adds the credential to a request; nil sends none.
	authorize func(*http.Request)
	// client sends the requests; nil: the server's plain HTTP client. A
	// client certificate column brings its own, with its TLS setup.
	client *apitest.Client
	// proves tells whether the credential identifies a caller; if not,
	// every route that is not public must answer 401.
	proves bool
	// role is what the identity may do, by the role table; "" grants
	// nothing.
	role auth.Role
}

// want is the status the credential must get from a route with rule,
// whose handler answers the matrix's request with handled.
func (c matrixCredential) want(rule auth.Rule, handled int) int {
	switch {
	case rule.IsPublic():
		return handled
	case !c.proves:
		return http.StatusUnauthorized
	case c.role != "" && auth.Allows(c.role, rule.Permission()):
		return handled
	}
	return http.StatusForbidden
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// matrixCredentials are the columns of the matrix.
//
// More credential kinds join here: a client certificate column sets
// client (an apitest client whose transport presents the certificate to
// a server started with TLS flags added in newAuthFixture), a scheduler
// token column sets authorize with a token from POST /api/v1/auth/token;
// each says whether it proves an identity and its role.
func (f *authFixture) matrixCredentials() []matrixCredential {
	f.serviceAccount("unbound", "")
	creds := []matrixCredential{
		{name: "no credential"},
		{name: "malformed header", authorize: func(r *http.Request) { r.Header.Set("Authorization", "Basic dXNlcjpwYXNzd29yZA==") }},
		{name: "unknown token", authorize: bearer("not-a-token-" + testenv.RandomContainerID()[:24])},
		{name: "ServiceAccount without a binding", authorize: bearer(f.token(f.ns, "unbound", []string{authAudience}, nil)), proves: true},
	}
	for _, role := range auth.Roles() {
		sa := "sa-" + string(role)
		f.serviceAccount(sa, role)
		creds = append(creds,
			matrixCredential{name: "static token of role " + string(role), authorize: bearer(f.static[role]), proves: true, role: role},
			matrixCredential{name: "ServiceAccount bound to bss-api-" + string(role), authorize: bearer(f.token(f.ns, sa, []string{authAudience}, nil)), proves: true, role: role},
		)
	}
	// The operator's ServiceAccount, with tokens the server must refuse.
	creds = append(creds,
		matrixCredential{name: "token for another audience", authorize: bearer(f.token(f.ns, "sa-operator", nil, nil))},
		matrixCredential{name: "revoked token", authorize: bearer(f.revokedToken("sa-operator"))},
	)
	// Client certificates: roles from the token file by common name; a
	// subject the file does not name is authorized by RBAC.
	for _, role := range auth.Roles() {
		creds = append(creds, matrixCredential{name: "client certificate named " + string(role) + " by the token file",
			client: f.certClient("cert-" + string(role)), proves: true, role: role})
	}
	f.bindUser("cert-rbac-viewer", auth.RoleViewer)
	creds = append(creds,
		matrixCredential{name: "client certificate bound to bss-api-viewer by RBAC", client: f.certClient("cert-rbac-viewer"), proves: true, role: auth.RoleViewer},
		matrixCredential{name: "client certificate nobody grants anything", client: f.certClient("cert-stranger"), proves: true},
	)
	// The scheduler token protocol.
	creds = append(creds,
		matrixCredential{name: "scheduler token", authorize: bearer(f.schedulerToken()), proves: true, role: auth.RoleScheduler},
		matrixCredential{name: "expired scheduler token", authorize: bearer(f.expiredSchedulerToken())},
	)
	return creds
}

// matrixBodies are the request bodies of the routes that take one: each
// is carried out when allowed, changing the store where the route writes.
// Other POST and PUT routes get {}.
var matrixBodies = map[string]string{
	"POST /api/v1/metrics":                                 `{"nr_queued":7,"nr_running":1}`,
	"POST /api/v1/scheduling/strategies":                   `{"strategies":[{"name":"matrix-written","execution_time":2000,"command_regex":"^matrix-written$"}]}`,
	"POST /api/v1/scheduling/strategies/preview":           `{"strategies":[{"name":"matrix-preview","execution_time":2000,"command_regex":"^matrix-preview$"}]}`,
	"PUT /api/v1/scheduling/strategies/definitions/{name}": `{"execution_time":3000,"command_regex":"^matrix-put$"}`,
}

// matrixBaseline is what the store holds before each request: the
// strategy that the matrix's PUT replaces and DELETE deletes.
const matrixBaseline = `{"strategies":[{"name":"matrix-probe","execution_time":1000,"command_regex":"^matrix-probe$"}]}`

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// matrixRequest is the request the matrix sends to a route.
func (f *authFixture) matrixRequest(c *apitest.Client, t *testing.T, rr httpapi.RouteRule) *http.Request {
	path := pathParam.ReplaceAllString(rr.Path, "matrix-probe")
	body, ok := matrixBodies[rr.Method+" "+rr.Path]
	if rr.Method+" "+rr.Path == "POST /api/v1/auth/token" {
		b, _ := json.Marshal(map[string]string{"public_key": f.schedulerPublicPEM()})
		body, ok = string(b), true
	}
	if !ok && (rr.Method == http.MethodPost || rr.Method == http.MethodPut) {
		body = "{}"
	}
	if body == "" {
		return c.NewRequest(t, rr.Method, path, "", nil)
	}
	return c.NewRequest(t, rr.Method, path, "application/json", []byte(body))
}

// storeState is what a denied request must leave as it was.
type storeState struct {
	definitions string
	samples     int
}

// stateOf reads the stored strategies and the number of metric samples,
// as the static operator (no credential: an open server).
func stateOf(t *testing.T, srv *testServer, operatorToken string) storeState {
	t.Helper()
	get := func(path string, v any) {
		req := srv.API.NewRequest(t, http.MethodGet, path, "", nil)
		if operatorToken != "" {
			bearer(operatorToken)(req)
		}
		res := srv.API.Do(t, req)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Body)
		}
		if err := json.Unmarshal(res.Body, v); err != nil {
			t.Fatal(err)
		}
	}
	var defs struct{ Strategies json.RawMessage }
	var hist struct{ Count int }
	get("/api/v1/scheduling/strategies/definitions", &defs)
	get("/api/v1/metrics/history?limit=10000", &hist)
	return storeState{definitions: string(defs.Strategies), samples: hist.Count}
}

// resetStore stores the matrix's baseline strategies and returns the state.
func resetStore(t *testing.T, srv *testServer, operatorToken string) storeState {
	t.Helper()
	req := srv.API.NewRequest(t, http.MethodPost, "/api/v1/scheduling/strategies", "application/json", []byte(matrixBaseline))
	if operatorToken != "" {
		bearer(operatorToken)(req)
	}
	if res := srv.API.Do(t, req); res.StatusCode != http.StatusOK {
		t.Fatalf("store the baseline: %d %s", res.StatusCode, res.Body)
	}
	return stateOf(t, srv, operatorToken)
}

// postSample posts one metrics sample, with token when not empty.
func postSample(t *testing.T, srv *testServer, token string) {
	t.Helper()
	req := srv.API.NewRequest(t, http.MethodPost, "/api/v1/metrics", "application/json", []byte(`{"nr_queued":1}`))
	if token != "" {
		bearer(token)(req)
	}
	if res := srv.API.Do(t, req); res.StatusCode != http.StatusOK {
		t.Fatalf("post a sample: %d %s", res.StatusCode, res.Body)
	}
}

// TestKubernetesAuthorization runs bss-api with --auth-kubernetes against a
// real kube-apiserver with RBAC and checks every route with every kind of
// caller, then what /metrics counts, then an API server outage.
func TestKubernetesAuthorization(t *testing.T) {
	f := newAuthFixture(t)
	creds := f.matrixCredentials()
	rules := httpapi.RouteRules()

	t.Run("matrix", func(t *testing.T) { testAuthorizationMatrix(t, f, creds, rules) })
	t.Run("metrics count outcomes by method and result", func(t *testing.T) { testAuthMetrics(t, f) })
	// Last: it stops and restarts the API server.
	t.Run("API server outage", func(t *testing.T) { testReviewOutage(t, f) })
}

// testAuthorizationMatrix sends every route's request with every credential
// and checks the exact status: the handler's own answer where the rule and
// the role table allow the caller, else 401 or 403 in the JSON envelope,
// with the store unchanged.
func testAuthorizationMatrix(t *testing.T, f *authFixture, creds []matrixCredential, rules []httpapi.RouteRule) {
	// The matrix covers what the server serves: GET / lists every route.
	var info struct {
		Endpoints []struct{ Method, Path string }
	}
	if err := json.Unmarshal(f.srv.API.Get(t, "/").Body, &info); err != nil {
		t.Fatal(err)
	}
	var listed, ruled []string
	for _, e := range info.Endpoints {
		listed = append(listed, e.Method+" "+e.Path)
	}
	for _, rr := range rules {
		ruled = append(ruled, rr.Method+" "+rr.Path)
	}
	if !sameSet(listed, ruled) {
		t.Fatalf("GET / lists %v, the route table has %v", listed, ruled)
	}

	// What each route's handler answers the matrix's request with, from
	// a server that checks no credentials, from the same baseline: the
	// baseline strategies, and a metrics sample.
	open := startServer(t, nil, unlimitedWrites...)
	postSample(t, open, "")
	postSample(t, f.srv, f.static[auth.RoleScheduler])
	handled := map[string]int{}
	for _, rr := range rules {
		if rr.Rule.IsPublic() {
			// A public route answers the same to every caller, and some
			// (the token endpoint) exist only with the server's settings.
			handled[rr.Method+" "+rr.Path] = f.srv.API.Do(t, f.matrixRequest(f.srv.API, t, rr)).StatusCode
			continue
		}
		resetStore(t, open, "")
		res := open.API.Do(t, f.matrixRequest(open.API, t, rr))
		if res.StatusCode >= 500 || res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			t.Fatalf("%s %s answers the matrix's request with %d without authentication: %s", rr.Method, rr.Path, res.StatusCode, res.Body)
		}
		handled[rr.Method+" "+rr.Path] = res.StatusCode
	}

	operator := f.static[auth.RoleOperator]
	base := resetStore(t, f.srv, operator)
	invalidBodies := map[string]bool{}
	for _, rr := range rules {
		for _, c := range creds {
			client := f.srv.API
			if c.client != nil {
				client = c.client
			}
			cur := stateOf(t, f.srv, operator)
			if cur.definitions != base.definitions {
				base = resetStore(t, f.srv, operator)
				cur = base
			}
			req := f.matrixRequest(client, t, rr)
			if c.authorize != nil {
				c.authorize(req)
			}
			res := client.Do(t, req)
			want := c.want(rr.Rule, handled[rr.Method+" "+rr.Path])
			cell := fmt.Sprintf("%s %s (%s) with %s", rr.Method, rr.Path, rr.Rule, c.name)
			if res.StatusCode != want {
				t.Errorf("%s = %d, want %d: %s", cell, res.StatusCode, want, res.Body)
				continue
			}
			if want != http.StatusUnauthorized && want != http.StatusForbidden {
				continue
			}
			var env struct {
				Success *bool
				Error   string
			}
			if err := json.Unmarshal(res.Body, &env); err != nil || env.Success == nil || *env.Success || env.Error == "" ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: the refusal is not the JSON error envelope: %s %s", cell, res.Header.Get("Content-Type"), res.Body)
			}
			if want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", cell)
			}
			if want == http.StatusUnauthorized && c.authorize != nil && c.name != "malformed header" {
				invalidBodies[string(res.Body)] = true
			}
			if after := stateOf(t, f.srv, operator); after != cur {
				t.Errorf("%s was refused but changed the store: %+v, then %+v", cell, cur, after)
			}
		}
	}
	// An unknown, a revoked and a wrong-audience token are told the same.
	if len(invalidBodies) != 1 {
		t.Errorf("refused tokens get different answers, which tells them apart: %v", slices.Collect(maps.Keys(invalidBodies)))
	}
	t.Logf("%d routes x %d credentials checked", len(rules), len(creds))
}

// scrape returns the server's /metrics text, read as the static viewer.
func scrape(t *testing.T, f *authFixture) string {
	t.Helper()
	req := f.srv.API.NewRequest(t, http.MethodGet, "/metrics", "", nil)
	bearer(f.static[auth.RoleViewer])(req)
	res := f.srv.API.Do(t, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	return string(res.Body)
}

// metricValue returns the value of one series of a /metrics text, or -1.
func metricValue(text, series string) float64 {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func testAuthMetrics(t *testing.T, f *authFixture) {
	text := scrape(t, f)
	for _, series := range []string{
		`bss_auth_authentications_total{method="kubernetes",result="success"}`,
		`bss_auth_authentications_total{method="token",result="success"}`,
		`bss_auth_authentications_total{method="bearer",result="invalid"}`,
		`bss_auth_authentications_total{method="none",result="missing"}`,
		`bss_auth_authorizations_total{method="kubernetes",result="allowed"}`,
		`bss_auth_authorizations_total{method="kubernetes",result="denied"}`,
		`bss_auth_authorizations_total{method="token",result="allowed"}`,
		`bss_auth_authorizations_total{method="token",result="denied"}`,
		`bss_auth_kubernetes_cache_total{result="hit",review="token"}`,
		`bss_auth_kubernetes_cache_total{result="miss",review="access"}`,
		`bss_auth_kubernetes_review_duration_seconds_count{result="valid",review="token"}`,
		`bss_auth_kubernetes_review_duration_seconds_count{result="invalid",review="token"}`,
		`bss_auth_kubernetes_review_duration_seconds_count{result="allowed",review="access"}`,
		`bss_auth_kubernetes_review_duration_seconds_count{result="denied",review="access"}`,
	} {
		if v := metricValue(text, series); v <= 0 {
			t.Errorf("%s = %v, want a count above 0 after the matrix", series, v)
		}
	}
}

// testReviewOutage stops the API server: a token or a question the server
// has not seen gets 503 with a clear message, never a pass; answers it has
// cached and static tokens keep working; once the API server is back, so
// is everything.
func testReviewOutage(t *testing.T, f *authFixture) {
	get := func(path, token string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		bearer(token)(req)
		res, err := f.tls.client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var env struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&env)
		return res.StatusCode, env.Error, res.Header
	}
	const defs, explain = "/api/v1/scheduling/strategies/definitions", "/api/v1/scheduling/strategies/explain"
	// Asked before: this token, for definitions. Never asked: the fresh
	// token, and the warm token for explain.
	warm := f.token(f.ns, "sa-viewer", []string{authAudience}, nil)
	fresh := f.token(f.ns, "sa-viewer", []string{authAudience}, nil)
	if code, msg, _ := get(defs, warm); code != http.StatusOK {
		t.Fatalf("viewer before the outage: %d %s", code, msg)
	}

	f.cp.StopAPIServer()
	for _, c := range []struct{ what, path, token, says string }{
		{"an unseen token", defs, fresh, "cannot check the bearer token now: the Kubernetes API server did not answer"},
		{"an unseen question", explain, warm, "cannot check permissions now: the Kubernetes API server did not answer"},
	} {
		code, msg, h := get(c.path, c.token)
		if code != http.StatusServiceUnavailable || !strings.Contains(msg, c.says) || h.Get("Retry-After") == "" {
			t.Errorf("%s with the API server down = %d %q (Retry-After %q), want 503 saying %q", c.what, code, msg, h.Get("Retry-After"), c.says)
		}
	}
	if code, msg, _ := get(defs, warm); code != http.StatusOK {
		t.Errorf("a cached answer with the API server down = %d %s, want 200", code, msg)
	}
	if code, msg, _ := get(defs, f.static[auth.RoleViewer]); code != http.StatusOK {
		t.Errorf("a static token with the API server down = %d %s, want 200", code, msg)
	}
	text := scrape(t, f)
	for _, series := range []string{
		`bss_auth_authentications_total{method="bearer",result="error"}`,
		`bss_auth_authorizations_total{method="kubernetes",result="error"}`,
		`bss_auth_kubernetes_review_duration_seconds_count{result="error",review="token"}`,
	} {
		if v := metricValue(text, series); v <= 0 {
			t.Errorf("%s = %v during the outage, want above 0", series, v)
		}
	}

	f.cp.StartAPIServer()
	waitFor(t, 60*time.Second, "the unseen token to work once the API server is back", func() bool {
		code, _, _ := get(defs, fresh)
		return code == http.StatusOK
	})
	if code, msg, _ := get(explain, warm); code != http.StatusOK {
		t.Errorf("the unseen question after the outage = %d %s", code, msg)
	}
}
