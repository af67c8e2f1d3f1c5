package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bss-api/bss-api/internal/apperr"
)

// fakeAPIServer answers TokenReviews and SubjectAccessReviews as a
// Kubernetes API server would, from what it is told, and records what it
// was asked.
type fakeAPIServer struct {
	mu sync.Mutex
	// users by token, with the audiences each token is meant for.
	users     map[string]authenticationv1.UserInfo
	audiences map[string][]string
	// allowed questions: user name + " " + permission.
	allowed map[string]bool
	err     error         // when set, every review fails with it
	gate    chan struct{} // when set, reviews wait for it to close

	tokenReviews  []authenticationv1.TokenReviewSpec
	accessReviews []authorizationv1.SubjectAccessReviewSpec
	deadlines     []time.Duration // time left on each review's context
}

func newFakeAPIServer() *fakeAPIServer {
	return &fakeAPIServer{users: map[string]authenticationv1.UserInfo{}, audiences: map[string][]string{}, allowed: map[string]bool{}}
}

// serve records a review (record runs under the lock), waits for the gate
// if one is set, and then answers with answer under the lock, or fails.
func (f *fakeAPIServer) serve(ctx context.Context, record, answer func()) error {
	f.mu.Lock()
	if d, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(d))
	} else {
		f.deadlines = append(f.deadlines, -1)
	}
	record()
	gate, err := f.gate, f.err
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	answer()
	return nil
}

type fakeTokenReviews struct{ *fakeAPIServer }

func (f fakeTokenReviews) Create(ctx context.Context, r *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	out := r.DeepCopy()
	err := f.serve(ctx, func() { f.tokenReviews = append(f.tokenReviews, r.Spec) }, func() {
		user, ok := f.users[r.Spec.Token]
		if !ok {
			out.Status.Error = "invalid bearer token"
			return
		}
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: user, Audiences: f.audiences[r.Spec.Token]}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type fakeAccessReviews struct{ *fakeAPIServer }

func (f fakeAccessReviews) Create(ctx context.Context, r *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	out := r.DeepCopy()
	err := f.serve(ctx, func() { f.accessReviews = append(f.accessReviews, r.Spec) }, func() {
		out.Status.Allowed = f.allowed[r.Spec.User+" "+question(r.Spec)]
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// question renders what an access review asks as Permission.String does.
func question(s authorizationv1.SubjectAccessReviewSpec) string {
	if n := s.NonResourceAttributes; n != nil {
		return Permission{Verb: n.Verb, Path: n.Path}.String()
	}
	a := s.ResourceAttributes
	return Permission{Verb: a.Verb, Resource: a.Resource, Subresource: a.Subresource}.String()
}

func (f *fakeAPIServer) counts() (tokens, access int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokenReviews), len(f.accessReviews)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	saToken   = "eyJhbGciOiJSUzI1NiJ9.service-account.signature"
	saName    = "system:serviceaccount:ops:deployer"
	audience  = "bss-api"
	nodeName  = "node-1"
	cacheTTL  = time.Minute
	deniedTTL = 10 * time.Second
)

func newTestKubernetes(t *testing.T, api *fakeAPIServer, clock *fakeClock, reg prometheus.Registerer) *Kubernetes {
	t.Helper()
	return NewKubernetes(KubernetesOptions{
		TokenReviews: fakeTokenReviews{api}, AccessReviews: fakeAccessReviews{api},
		Audiences: []string{audience}, Node: nodeName,
		CacheTTL: cacheTTL, DeniedCacheTTL: deniedTTL, Timeout: 3 * time.Second,
		Registry: reg, Now: clock.Now,
	})
}

func apiWithServiceAccount() *fakeAPIServer {
	api := newFakeAPIServer()
	api.users[saToken] = authenticationv1.UserInfo{
		Username: saName, UID: "uid-1", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ops"},
		Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=abc"}},
	}
	api.audiences[saToken] = []string{audience}
	return api
}

func TestKubernetesTokenReview(t *testing.T) {
	ctx := context.Background()
	api := apiWithServiceAccount()
	api.users["other-audience"] = authenticationv1.UserInfo{Username: "system:serviceaccount:ops:other"}
	api.audiences["other-audience"] = []string{"https://kubernetes.default.svc"}
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reg := prometheus.NewRegistry()
	k := newTestKubernetes(t, api, clock, reg)

	id, ok, err := k.AuthenticateToken(ctx, saToken)
	want := Identity{
		Name: saName, UID: "uid-1", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ops"},
		Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=abc"}}, Method: MethodKubernetes,
	}
	want.who = encodeIdentity(want)
	if err != nil || !ok || !reflect.DeepEqual(id, want) {
		t.Fatalf("AuthenticateToken = %+v, %v, %v; want %+v", id, ok, err, want)
	}
	if got := api.tokenReviews[0]; got.Token != saToken || !reflect.DeepEqual(got.Audiences, []string{audience}) {
		t.Errorf("review asked %+v, want the token and audience %s", got, audience)
	}
	if again, _, _ := k.AuthenticateToken(ctx, saToken); !reflect.DeepEqual(again, want) {
		t.Errorf("the cached identity = %+v, want %+v", again, want)
	}
	if n, _ := api.counts(); n != 1 {
		t.Errorf("%d token reviews for one token within the TTL, want 1", n)
	}

	// Invalid, and valid for another audience, are both "not ok", no error.
	for _, token := range []string{"no-such-token", "other-audience"} {
		if id, ok, err := k.AuthenticateToken(ctx, token); ok || err != nil {
			t.Errorf("token %q = %+v, %v, %v; want invalid", token, id, ok, err)
		}
	}

	// The cache expires: invalid answers after the denied TTL, valid ones
	// after the allowed TTL.
	clock.Add(deniedTTL + time.Second)
	_, _, _ = k.AuthenticateToken(ctx, saToken)
	_, _, _ = k.AuthenticateToken(ctx, "no-such-token")
	if n, _ := api.counts(); n != 4 {
		t.Errorf("%d token reviews after the denied TTL, want 4 (the invalid token asked again, the valid one not)", n)
	}
	clock.Add(cacheTTL)
	_, _, _ = k.AuthenticateToken(ctx, saToken)
	if n, _ := api.counts(); n != 5 {
		t.Errorf("%d token reviews after the allowed TTL, want 5", n)
	}

	// Every review is bounded by the timeout.
	for i, d := range api.deadlines {
		if d <= 0 || d > 3*time.Second {
			t.Errorf("review %d had %v left on its context, want a deadline within 3s", i, d)
		}
	}
	// The cache is keyed by a digest, never by the token.
	for _, key := range k.tokens.lru.Keys() {
		if s := key.(string); len(s) != 32 || strings.Contains(s, "token") {
			t.Errorf("cache key %q is not a SHA-256 digest", s)
		}
	}
	if got := testutil.ToFloat64(k.tokenHit); got != 2 {
		t.Errorf("token cache hits = %v, want 2", got)
	}
}

func TestKubernetesReviewErrorsAreNotCachedNorInvalid(t *testing.T) {
	ctx := context.Background()
	api := apiWithServiceAccount()
	api.err = errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	k := newTestKubernetes(t, api, &fakeClock{now: time.Unix(0, 0)}, nil)

	for range 2 {
		if _, ok, err := k.AuthenticateToken(ctx, saToken); ok || err == nil || !strings.Contains(err.Error(), "TokenReview: dial tcp") {
			t.Errorf("AuthenticateToken with the API server down = %v, %v; want an error", ok, err)
		}
		if _, err := k.Authorize(ctx, Identity{Name: saName}, ReadDefinitions); err == nil {
			t.Error("Authorize with the API server down: no error")
		}
	}
	if tokens, access := api.counts(); tokens != 2 || access != 2 {
		t.Errorf("reviews = %d token, %d access; want 2 each (a failure is never cached)", tokens, access)
	}
	// Once the API server answers, so does the authenticator.
	api.err = nil
	if _, ok, err := k.AuthenticateToken(ctx, saToken); !ok || err != nil {
		t.Errorf("after recovery: %v, %v", ok, err)
	}
}

func TestKubernetesAccessReview(t *testing.T) {
	ctx := context.Background()
	api := apiWithServiceAccount()
	api.allowed[saName+" "+ReadDefinitions.String()] = true
	api.allowed[saName+" "+ReadPrometheus.String()] = true
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	k := newTestKubernetes(t, api, clock, nil)
	id, _, _ := k.AuthenticateToken(ctx, saToken)

	for _, c := range []struct {
		p    Permission
		want bool
	}{
		{ReadDefinitions, true},
		{ReadPrometheus, true},
		{WriteStrategies, false},
		{ReadHistory, false},
		{ReadDefinitions, true}, // cached
		{WriteStrategies, false},
	} {
		if got, err := k.Authorize(ctx, id, c.p); got != c.want || err != nil {
			t.Errorf("Authorize(%s) = %v, %v; want %v", c.p, got, err, c.want)
		}
	}
	if _, n := api.counts(); n != 4 {
		t.Errorf("%d access reviews for 4 questions, want 4", n)
	}
	res := api.accessReviews[0]
	wantRes := authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Group: Group, Resource: "strategies", Verb: "get", Name: nodeName},
		User:               saName, UID: "uid-1", Groups: id.Groups,
		Extra: map[string]authorizationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=abc"}},
	}
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("access review spec =\n%+v\nwant\n%+v", res, wantRes)
	}
	if got := api.accessReviews[1].NonResourceAttributes; got == nil || *got != (authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}) ||
		api.accessReviews[1].ResourceAttributes != nil {
		t.Errorf("a path permission is asked as %+v", api.accessReviews[1])
	}

	// The question of a reviewed identity, encoded once, is the one an
	// identity with the same fields asks.
	same := Identity{Name: id.Name, UID: id.UID, Groups: id.Groups, Extra: id.Extra, Method: id.Method}
	if accessKey(same, ReadDefinitions) != accessKey(id, ReadDefinitions) {
		t.Error("a reviewed identity's access key differs from the one of its fields")
	}
	// Another identity with the same name (another token of the same
	// ServiceAccount) is another question.
	other := Identity{Name: id.Name, UID: id.UID, Groups: id.Groups, Method: id.Method,
		Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=def"}}}
	_, _ = k.Authorize(ctx, other, ReadDefinitions)
	if _, n := api.counts(); n != 5 {
		t.Errorf("another token's identity reused an access answer: %d reviews, want 5", n)
	}

	// Denied answers expire first; allowed ones stay for the allowed TTL.
	clock.Add(deniedTTL + time.Second)
	_, _ = k.Authorize(ctx, id, ReadDefinitions)
	_, _ = k.Authorize(ctx, id, WriteStrategies)
	if _, n := api.counts(); n != 6 {
		t.Errorf("%d access reviews after the denied TTL, want 6", n)
	}
	// RBAC changed: the grant is withdrawn; it ends with the allowed TTL.
	delete(api.allowed, saName+" "+ReadDefinitions.String())
	clock.Add(cacheTTL)
	if got, _ := k.Authorize(ctx, id, ReadDefinitions); got {
		t.Error("a withdrawn grant outlived the allowed TTL")
	}
}

func TestAccessKeyIsUnambiguous(t *testing.T) {
	base := Identity{Name: "a", Groups: []string{"b", "c"}}
	keys, flights := map[accessQuestion]string{}, map[string]string{}
	for name, id := range map[string]Identity{
		"base":        base,
		"joined":      {Name: "a", Groups: []string{"bc"}},
		"moved":       {Name: "ab", Groups: []string{"c"}},
		"uid":         {Name: "a", UID: "b", Groups: []string{"c"}},
		"extra":       {Name: "a", Groups: []string{"b", "c"}, Extra: map[string][]string{"k": {"v"}}},
		"extra-split": {Name: "a", Groups: []string{"b", "c"}, Extra: map[string][]string{"k": {"v", ""}}},
	} {
		key := accessKey(id, ReadDefinitions)
		if other, dup := keys[key]; dup {
			t.Errorf("%s and %s share an access key", name, other)
		}
		if other, dup := flights[key.String()]; dup {
			t.Errorf("%s and %s share a flight key", name, other)
		}
		keys[key], flights[key.String()] = name, name
	}
	if a, b := accessKey(base, ReadDefinitions), accessKey(base, ExplainStrategies); a == b || a.String() == b.String() {
		t.Error("two permissions share an access key")
	}
}

func TestKubernetesConcurrentMissesMakeOneReview(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := apiWithServiceAccount()
		api.allowed[saName+" "+ReadResolved.String()] = true
		api.gate = make(chan struct{})
		k := newTestKubernetes(t, api, &fakeClock{now: time.Unix(0, 0)}, nil)

		const callers = 20
		var wg sync.WaitGroup
		results := make(chan bool, callers)
		for range callers {
			wg.Go(func() {
				id, ok, err := k.AuthenticateToken(context.Background(), saToken)
				if err != nil || !ok {
					results <- false
					return
				}
				allowed, err := k.Authorize(context.Background(), id, ReadResolved)
				results <- allowed && err == nil
			})
		}
		// Every caller is waiting: one in the token review, the rest on
		// it. Then the same for the access review.
		synctest.Wait()
		tokensDone := api.gate
		api.mu.Lock()
		api.gate = make(chan struct{})
		api.mu.Unlock()
		close(tokensDone)
		synctest.Wait()
		close(api.gate)
		wg.Wait()
		close(results)
		for ok := range results {
			if !ok {
				t.Error("a caller was not authenticated and allowed")
			}
		}
		if tokens, access := api.counts(); tokens != 1 || access != 1 {
			t.Errorf("%d callers at once made %d token and %d access reviews, want 1 each", callers, tokens, access)
		}
	})
}

func TestKubernetesCallerGoingAwayDoesNotFailOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := apiWithServiceAccount()
		api.gate = make(chan struct{})
		k := newTestKubernetes(t, api, &fakeClock{now: time.Unix(0, 0)}, nil)

		first, cancel := context.WithCancel(context.Background())
		firstErr := make(chan error, 1)
		go func() {
			_, _, err := k.AuthenticateToken(first, saToken)
			firstErr <- err
		}()
		synctest.Wait() // the first caller's review is in flight
		second := make(chan bool, 1)
		go func() {
			_, ok, _ := k.AuthenticateToken(context.Background(), saToken)
			second <- ok
		}()
		synctest.Wait()
		cancel()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled caller got %v, want context.Canceled", err)
		}
		close(api.gate)
		if !<-second {
			t.Error("the other caller failed with the first")
		}
	})
}

func TestKubernetesCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	api := newFakeAPIServer()
	for _, tok := range []string{"t1", "t2", "t3"} {
		api.users[tok] = authenticationv1.UserInfo{Username: tok}
	}
	k := NewKubernetes(KubernetesOptions{
		TokenReviews: fakeTokenReviews{api}, AccessReviews: fakeAccessReviews{api},
		CacheTTL: time.Hour, DeniedCacheTTL: time.Hour, CacheSize: 2,
	})
	for _, tok := range []string{"t1", "t2", "t3", "t3", "t2", "t1"} {
		if _, ok, err := k.AuthenticateToken(ctx, tok); !ok || err != nil {
			t.Fatalf("%s: %v %v", tok, ok, err)
		}
	}
	// t1 was evicted by t3; t3 and t2 stayed.
	if n, _ := api.counts(); n != 4 {
		t.Errorf("%d reviews, want 4", n)
	}
	if n := len(k.tokens.lru.Keys()); n != 2 {
		t.Errorf("the cache holds %d entries, want at most 2", n)
	}
}

// TestGuardWithKubernetes puts the reviews behind the Guard: Kubernetes
// identities and certificates no mapping names are authorized by
// SubjectAccessReview; an API server that cannot be reached is a 503 with
// Retry-After, never a pass.
func TestGuardWithKubernetes(t *testing.T) {
	api := apiWithServiceAccount()
	api.allowed[saName+" "+PostMetrics.String()] = true
	api.allowed["node-7 "+ReadResolved.String()] = true
	k := newTestKubernetes(t, api, &fakeClock{now: time.Unix(0, 0)}, nil)
	certs := certificateFunc(func(chain []*x509.Certificate) Identity { return CertificateIdentity(chain, nil) })
	g := NewGuard(GuardOptions{Tokens: []TokenAuthenticator{k}, Certificates: certs, Authorizer: k})

	bearer := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/metrics", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	if id, err := g.Check(bearer(saToken), Require(PostMetrics)); err != nil || id.Name != saName || id.Role != "" {
		t.Errorf("allowed ServiceAccount: %+v, %v", id, err)
	}
	if _, err := g.Check(bearer(saToken), Require(WriteStrategies)); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("denied ServiceAccount: %v, want Forbidden", err)
	}
	if _, err := g.Check(bearer("no-such-token"), Require(PostMetrics)); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Errorf("unknown token: %v, want Unauthenticated", err)
	}
	withCert := func(cn string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/scheduling/strategies", nil)
		r.TLS = tlsWithChain(cn)
		return r
	}
	if id, err := g.Check(withCert("node-7"), Require(ReadResolved)); err != nil || id.Method != MethodCertificate {
		t.Errorf("certificate allowed by RBAC: %+v, %v", id, err)
	}
	if _, err := g.Check(withCert("node-8"), Require(ReadResolved)); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("certificate RBAC does not name: %v, want Forbidden", err)
	}
	_, access := api.counts()
	if _, err := g.Check(withCert(""), Require(ReadResolved)); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("certificate without a common name: %v, want Forbidden", err)
	}
	if _, n := api.counts(); n != access {
		t.Error("a nameless identity was asked about")
	}

	api.err = errors.New("connection refused")
	for name, r := range map[string]*http.Request{"uncached token": bearer("another-token"), "uncached question": withCert("node-9")} {
		_, err := g.Check(r, Require(ReadResolved))
		if apperr.CodeOf(err) != apperr.Unavailable || apperr.RetryAfterOf(err) <= 0 {
			t.Errorf("%s with the API server down: %v (retry after %v), want Unavailable with a Retry-After", name, err, apperr.RetryAfterOf(err))
		}
	}
	// What is cached still answers.
	if _, err := g.Check(bearer(saToken), Require(PostMetrics)); err != nil {
		t.Errorf("cached answer with the API server down: %v", err)
	}
}

func tlsWithChain(cn string) *tls.ConnectionState {
	return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn}}}}}
}

type certificateFunc func([]*x509.Certificate) Identity

func (f certificateFunc) AuthenticateCertificate(_ context.Context, chain []*x509.Certificate) (Identity, bool, error) {
	return f(chain), true, nil
}

// TestNoPathPermissionIsEveryones: Kubernetes' default ClusterRoles
// (system:discovery, system:public-info-viewer) grant these non-resource
// URLs to every authenticated user; a permission asked as one of them
// would be granted to anyone with a token.
func TestNoPathPermissionIsEveryones(t *testing.T) {
	defaults := []string{"/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"}
	for _, role := range Roles() {
		for _, p := range RolePermissions(role) {
			if p.Path == "" {
				continue
			}
			for _, d := range defaults {
				prefix, wild := strings.CutSuffix(d, "*")
				if p.Path == d || wild && strings.HasPrefix(p.Path, prefix) {
					t.Errorf("%s (role %s) is granted to every authenticated Kubernetes user by %s", p, role, d)
				}
			}
		}
	}
}
