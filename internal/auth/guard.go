package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/apperr"
)

// TokenAuthenticator checks bearer tokens of one kind.
type TokenAuthenticator interface {
	// AuthenticateToken returns the identity token proves. ok is false
	// when the token is not a valid one of this kind (unknown, expired,
	// wrong audience: the caller is not told which). err reports a failure
	// to decide, such as an API server that cannot be reached; it is never
	// used for "invalid".
	AuthenticateToken(ctx context.Context, token string) (id Identity, ok bool, err error)
}

// TokenOwner is implemented by a TokenAuthenticator whose tokens have a
// form of their own. A token it owns is decided by it alone: the
// authenticators after it never see it (a scheduler token must not reach
// TokenReview).
type TokenOwner interface {
	OwnsToken(token string) bool
}

// CertificateAuthenticator turns a verified client certificate chain (leaf
// first) into an identity.
type CertificateAuthenticator interface {
	AuthenticateCertificate(ctx context.Context, chain []*x509.Certificate) (id Identity, ok bool, err error)
}

// Authorizer decides permissions for identities that carry no role (those
// the Kubernetes API server vouches for).
type Authorizer interface {
	// Authorize reports whether id may have p. err reports a failure to
	// decide; the request is then refused with 503, never let through.
	Authorize(ctx context.Context, id Identity, p Permission) (allowed bool, err error)
}

// GuardOptions configure a Guard. With no Tokens and no Certificates the
// Guard is open: every caller is Anonymous.
type GuardOptions struct {
	// Tokens are tried in order; the first that accepts a token wins, and
	// a TokenOwner that refuses a token it owns ends the search.
	Tokens       []TokenAuthenticator
	Certificates CertificateAuthenticator // optional
	// Authorizer decides for identities without a role; without one they
	// are refused.
	Authorizer Authorizer
	Registry   prometheus.Registerer // optional
}

// Guard authenticates requests and authorizes them against a route's
// Rule. Safe for concurrent use.
type Guard struct {
	opts  GuardOptions
	open  bool
	authn *prometheus.CounterVec
	authz *prometheus.CounterVec
}

// NewGuard returns a Guard.
func NewGuard(opts GuardOptions) *Guard {
	g := &Guard{
		opts: opts,
		open: len(opts.Tokens) == 0 && opts.Certificates == nil,
		authn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_auth_authentications_total",
			Help: "Requests that presented a credential (or none), by credential method and result: success, invalid, missing, error.",
		}, []string{"method", "result"}),
		authz: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_auth_authorizations_total",
			Help: "Authorization decisions for authenticated requests, by credential method and result: allowed, denied, error.",
		}, []string{"method", "result"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(g.authn, g.authz)
	}
	return g
}

// Open reports whether no credential method is configured.
func (g *Guard) Open() bool { return g.open }

// Errors the caller sees. They never say whether a token exists.
var (
	errMissing   = apperr.Errorf(apperr.Unauthenticated, "authentication required: send Authorization: Bearer <token>, or a client certificate")
	errMalformed = apperr.Errorf(apperr.Unauthenticated, "malformed Authorization header: want one header of the form Bearer <token>")
	errInvalid   = apperr.Errorf(apperr.Unauthenticated, "invalid credentials")
)

// Check authenticates r and authorizes it for rule. It returns the
// identity (Anonymous on an open Guard) or an apperr error:
// Unauthenticated (401), Forbidden (403) or Unavailable (503).
//
// For a public rule a credential is optional: a valid one is returned,
// so handlers can show more to callers who may see it; a missing or
// invalid one is not an error, and the caller is anonymous without a role.
func (g *Guard) Check(r *http.Request, rule Rule) (Identity, error) {
	if g.open {
		return Anonymous(), nil
	}
	id, err := g.authenticate(r)
	if rule.IsPublic() {
		return publicIdentity(id, err), nil
	}
	if err != nil {
		return Identity{}, err
	}
	if err := g.Authorize(r.Context(), id, rule.Permission()); err != nil {
		return id, err
	}
	return id, nil
}

// publicIdentity is who the caller of a public route is: the identity its
// credential proved, else nobody in particular (no role, no permissions).
func publicIdentity(id Identity, authErr error) Identity {
	if authErr != nil {
		return Identity{Name: "anonymous", Method: MethodNone}
	}
	return id
}

// Permits reports whether id may have p, treating a failure to decide as
// no. For optional extras on public routes.
func (g *Guard) Permits(ctx context.Context, id Identity, p Permission) bool {
	if g.open {
		return true
	}
	if id.Method == MethodNone {
		return false
	}
	return g.Authorize(ctx, id, p) == nil
}

// Authorize returns nil when id may have p, else Forbidden, or Unavailable
// when it cannot be decided.
func (g *Guard) Authorize(ctx context.Context, id Identity, p Permission) error {
	var allowed bool
	var err error
	switch {
	case g.open:
		allowed = true
	case id.Role != "":
		allowed = Allows(id.Role, p)
	case g.opts.Authorizer != nil:
		allowed, err = g.opts.Authorizer.Authorize(ctx, id, p)
	}
	if err != nil {
		g.authz.WithLabelValues(string(id.Method), "error").Inc()
		return apperr.Wrap(apperr.Unavailable, err, "cannot check permissions now: the Kubernetes API server did not answer; retry later")
	}
	if !allowed {
		g.authz.WithLabelValues(string(id.Method), "denied").Inc()
		who := id.Name
		if id.Role != "" {
			who += " (role " + string(id.Role) + ")"
		}
		return apperr.Errorf(apperr.Forbidden, "%s may not %s (resource group %s)", who, p, Group)
	}
	g.authz.WithLabelValues(string(id.Method), "allowed").Inc()
	return nil
}

// authenticate establishes who sent r: a bearer token if one is sent, else
// a verified client certificate.
func (g *Guard) authenticate(r *http.Request) (Identity, error) {
	ctx := r.Context()
	if values := r.Header.Values("Authorization"); len(values) > 0 {
		token, ok := bearerToken(values)
		if !ok {
			g.authn.WithLabelValues("bearer", "invalid").Inc()
			return Identity{}, errMalformed
		}
		var failures []error
		for _, a := range g.opts.Tokens {
			id, ok, err := a.AuthenticateToken(ctx, token)
			if err != nil {
				failures = append(failures, err)
				continue
			}
			if ok {
				g.authn.WithLabelValues(string(id.Method), "success").Inc()
				return id, nil
			}
			if o, isOwner := a.(TokenOwner); isOwner && o.OwnsToken(token) {
				break
			}
		}
		if len(failures) > 0 {
			g.authn.WithLabelValues("bearer", "error").Inc()
			return Identity{}, apperr.Wrap(apperr.Unavailable, errors.Join(failures...),
				"cannot check the bearer token now: the Kubernetes API server did not answer; retry later")
		}
		g.authn.WithLabelValues("bearer", "invalid").Inc()
		return Identity{}, errInvalid
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && g.opts.Certificates != nil {
		id, ok, err := g.opts.Certificates.AuthenticateCertificate(ctx, r.TLS.VerifiedChains[0])
		switch {
		case err != nil:
			g.authn.WithLabelValues(string(MethodCertificate), "error").Inc()
			return Identity{}, apperr.Wrap(apperr.Unavailable, err, "cannot check the client certificate now; retry later")
		case !ok:
			g.authn.WithLabelValues(string(MethodCertificate), "invalid").Inc()
			return Identity{}, errInvalid
		}
		g.authn.WithLabelValues(string(MethodCertificate), "success").Inc()
		return id, nil
	}
	g.authn.WithLabelValues("none", "missing").Inc()
	return Identity{}, errMissing
}

// bearerToken returns the token of the one Authorization header values
// holds, if it is "Bearer <token>" with a non-empty token of visible ASCII.
func bearerToken(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > maxTokenBytes {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return "", false
		}
	}
	return token, true
}

// maxTokenBytes bounds what a bearer token may weigh: Kubernetes
// ServiceAccount tokens are about 1 KB.
const maxTokenBytes = 16 << 10
