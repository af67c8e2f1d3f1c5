package auth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenReviewer creates TokenReviews: a clientset's
// AuthenticationV1().TokenReviews().
type TokenReviewer interface {
	Create(ctx context.Context, review *authenticationv1.TokenReview, opts metav1.CreateOptions) (*authenticationv1.TokenReview, error)
}

// AccessReviewer creates SubjectAccessReviews: a clientset's
// AuthorizationV1().SubjectAccessReviews().
type AccessReviewer interface {
	Create(ctx context.Context, review *authorizationv1.SubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error)
}

// Defaults of KubernetesOptions.
const (
	// DefaultReviewCacheSize bounds each review cache: a node's callers
	// are a scheduler and a few people and tools.
	DefaultReviewCacheSize = 4096
	// DefaultReviewTimeout bounds one review. The API server answers in
	// milliseconds; past this, the request is refused with 503 rather
	// than held.
	DefaultReviewTimeout = 5 * time.Second
)

// KubernetesOptions configure a Kubernetes authenticator and authorizer.
type KubernetesOptions struct {
	TokenReviews  TokenReviewer
	AccessReviews AccessReviewer
	// Audiences a token must be meant for; empty: the API server's own.
	Audiences []string
	// Node is this server's node: the name of the resource every access
	// review asks about, so RBAC can grant access per node with
	// resourceNames.
	Node string
	// CacheTTL is how long a valid token or an allowed access is reused;
	// DeniedCacheTTL how long an invalid token or a denied access is.
	CacheTTL       time.Duration
	DeniedCacheTTL time.Duration
	CacheSize      int           // entries per cache; default DefaultReviewCacheSize
	Timeout        time.Duration // per review; default DefaultReviewTimeout
	Registry       prometheus.Registerer
	Now            func() time.Time // for tests; default time.Now
}

// Kubernetes checks bearer tokens with TokenReview and decides the
// permissions of role-less identities (Kubernetes users and
// ServiceAccounts, client certificates no mapping names) with
// SubjectAccessReview, as the kubelet's webhook authentication and
// authorization do. Operators grant access with RBAC: the ClusterRoles
// in k8s/ hold the permissions of each role.
//
// Answers are cached by a SHA-256 digest of the token (the token itself is
// never kept) or by the identity and permission: valid and allowed ones
// for CacheTTL, invalid and denied ones for DeniedCacheTTL, at most
// CacheSize of each. Concurrent misses of one key make one review. A
// review that fails (the API server cannot be reached, or refuses the
// review itself) is an error, never cached and never read as "invalid":
// the Guard then answers 503. Safe for concurrent use.
type Kubernetes struct {
	opts   KubernetesOptions
	tokens *reviewCache[string, Identity]
	access *reviewCache[accessQuestion, struct{}]

	duration *prometheus.HistogramVec
	tokenHit prometheus.Counter
	tokenMis prometheus.Counter
	accHit   prometheus.Counter
	accMis   prometheus.Counter
}

var (
	_ TokenAuthenticator = (*Kubernetes)(nil)
	_ Authorizer         = (*Kubernetes)(nil)
)

// NewKubernetes returns a Kubernetes authenticator and authorizer. It
// contacts nothing until asked.
func NewKubernetes(opts KubernetesOptions) *Kubernetes {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultReviewCacheSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultReviewTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	clock := clockFunc(opts.Now)
	cached := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bss_auth_kubernetes_cache_total",
		Help: "Token and access review answers needed, by review (token, access) and whether the cache had them (hit, miss).",
	}, []string{"review", "result"})
	k := &Kubernetes{
		opts: opts,
		tokens: newReviewCache[string, Identity](opts.CacheSize, opts.CacheTTL, opts.DeniedCacheTTL, opts.Timeout, clock,
			func(digest string) string { return digest }),
		access: newReviewCache[accessQuestion, struct{}](opts.CacheSize, opts.CacheTTL, opts.DeniedCacheTTL, opts.Timeout, clock,
			accessQuestion.String),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bss_auth_kubernetes_review_duration_seconds",
			Help:    "Time the Kubernetes API server took to answer TokenReviews and SubjectAccessReviews, by review (token, access) and result (valid, invalid, allowed, denied, error).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"review", "result"}),
		tokenHit: cached.WithLabelValues("token", "hit"),
		tokenMis: cached.WithLabelValues("token", "miss"),
		accHit:   cached.WithLabelValues("access", "hit"),
		accMis:   cached.WithLabelValues("access", "miss"),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(cached, k.duration)
	}
	return k
}

// clockFunc adapts a now function to the LRU cache's clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// AuthenticateToken implements TokenAuthenticator with TokenReview.
func (k *Kubernetes) AuthenticateToken(ctx context.Context, token string) (Identity, bool, error) {
	e, hit, err := k.tokens.get(ctx, tokenKey(token), func(ctx context.Context) (Identity, bool, error) {
		return k.reviewToken(ctx, token)
	})
	k.count(hit, k.tokenHit, k.tokenMis)
	if err != nil || !e.ok {
		return Identity{}, false, err
	}
	return e.value, true, nil
}

// tokenKey is the cache key of token: its SHA-256 digest. A token of the
// usual size (a ServiceAccount token is about 1 KB) is copied into a
// buffer on the stack to be hashed, not onto the heap.
func tokenKey(token string) string {
	var buf [4 << 10]byte
	b := buf[:0]
	if len(token) <= len(buf) {
		b = append(b, token...)
	} else {
		b = []byte(token)
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}

func (k *Kubernetes) reviewToken(ctx context.Context, token string) (Identity, bool, error) {
	start := k.opts.Now()
	res, err := k.opts.TokenReviews.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: k.opts.Audiences},
	}, metav1.CreateOptions{})
	result := "error"
	defer func() { k.duration.WithLabelValues("token", result).Observe(k.opts.Now().Sub(start).Seconds()) }()
	if err != nil {
		return Identity{}, false, fmt.Errorf("TokenReview: %w", err)
	}
	st := res.Status
	if !st.Authenticated || st.User.Username == "" || !k.audienceOK(st.Audiences) {
		result = "invalid"
		return Identity{}, false, nil
	}
	result = "valid"
	id := Identity{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Method: MethodKubernetes}
	if len(st.User.Extra) > 0 {
		id.Extra = make(map[string][]string, len(st.User.Extra))
		for key, v := range st.User.Extra {
			id.Extra[key] = []string(v)
		}
	}
	id.who = encodeIdentity(id)
	return id, true, nil
}

// audienceOK reports whether a token the API server found valid for got
// is meant for one of the configured audiences. With none configured, the
// API server checked its own.
func (k *Kubernetes) audienceOK(got []string) bool {
	if len(k.opts.Audiences) == 0 {
		return true
	}
	for _, a := range got {
		if slices.Contains(k.opts.Audiences, a) {
			return true
		}
	}
	return false
}

// Authorize implements Authorizer with SubjectAccessReview: p is asked as
// a verb on a resource of Group named after this node, or as a verb on a
// non-resource path. An identity without a name (a client certificate
// without a common name) is denied without asking: RBAC binds names.
func (k *Kubernetes) Authorize(ctx context.Context, id Identity, p Permission) (bool, error) {
	if id.Name == "" {
		return false, nil
	}
	e, hit, err := k.access.get(ctx, accessKey(id, p), func(ctx context.Context) (struct{}, bool, error) {
		allowed, err := k.reviewAccess(ctx, id, p)
		return struct{}{}, allowed, err
	})
	k.count(hit, k.accHit, k.accMis)
	return e.ok, err
}

func (k *Kubernetes) reviewAccess(ctx context.Context, id Identity, p Permission) (bool, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{User: id.Name, UID: id.UID, Groups: id.Groups}
	if len(id.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(id.Extra))
		for key, v := range id.Extra {
			spec.Extra[key] = v
		}
	}
	if p.Path != "" {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: p.Path, Verb: p.Verb}
	} else {
		spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Group: Group, Resource: p.Resource, Subresource: p.Subresource, Verb: p.Verb, Name: k.opts.Node,
		}
	}
	start := k.opts.Now()
	res, err := k.opts.AccessReviews.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	result := "error"
	defer func() { k.duration.WithLabelValues("access", result).Observe(k.opts.Now().Sub(start).Seconds()) }()
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	result = "denied"
	if res.Status.Allowed {
		result = "allowed"
	}
	return res.Status.Allowed, nil
}

func (k *Kubernetes) count(hit bool, hits, misses prometheus.Counter) {
	if hit {
		hits.Inc()
	} else {
		misses.Inc()
	}
}

// accessQuestion is what an access review is asked, as a cache key: who
// (the identity, encoded) may have which permission.
type accessQuestion struct {
	who string
	p   Permission
}

// String encodes q one-to-one (who is self-delimiting: each of its parts
// is counted or length-prefixed), for the singleflight of a miss.
func (q accessQuestion) String() string {
	b := []byte(q.who)
	for _, f := range []string{q.p.Verb, q.p.Resource, q.p.Subresource, q.p.Path} {
		b = appendField(b, f)
	}
	return string(b)
}

// accessKey is the question of whether id may have p. A reviewed token's
// identity comes encoded; any other is encoded here.
func accessKey(id Identity, p Permission) accessQuestion {
	who := id.who
	if who == "" {
		who = encodeIdentity(id)
	}
	return accessQuestion{who: who, p: p}
}

// encodeIdentity encodes the identity's name, UID, groups and extra, each
// string length-prefixed, so no two identities share an encoding. It
// holds nothing secret, so the encoding itself is the key: hashing it
// would cost more than the map lookup it serves.
func encodeIdentity(id Identity) string {
	var buf [1 << 10]byte
	var keyBuf [8]string
	b := buf[:0]
	b = appendField(b, id.Name)
	b = appendField(b, id.UID)
	b = binary.AppendUvarint(b, uint64(len(id.Groups)))
	for _, g := range id.Groups {
		b = appendField(b, g)
	}
	b = binary.AppendUvarint(b, uint64(len(id.Extra)))
	keys := keyBuf[:0]
	for key := range id.Extra {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		b = appendField(b, key)
		b = binary.AppendUvarint(b, uint64(len(id.Extra[key])))
		for _, v := range id.Extra[key] {
			b = appendField(b, v)
		}
	}
	return string(b)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
