// Package auth is bss-api's trust boundary: who is calling
// (authentication) and whether they may do what a route does
// (authorization).
//
// Every route declares a Rule: public, or a Permission in Kubernetes
// authorization terms (a verb on a resource of Group, or a non-resource
// path). Credentials become an Identity: static bearer tokens and the
// scheduler's tokens carry a Role; client certificates carry one when the
// token file names them; Kubernetes identities carry none and are
// authorized per request with SubjectAccessReview, so operators grant
// access with ordinary RBAC. The roles are the three bundles of
// permissions in roles.go, and the ClusterRoles shipped in k8s/ are
// generated from the same table.
//
// With no credential method configured the Guard is open: every request is
// the anonymous operator. The server then listens on loopback only and
// refuses requests whose Host is not a loopback name (see httpapi).
package auth

import (
	"context"
	"slices"
)

// Role is a bundle of permissions a credential can carry.
type Role string

// The roles.
const (
	// RoleScheduler posts metrics and reads what a scheduler needs: the
	// resolved strategies, the pods and the latest sample.
	RoleScheduler Role = "scheduler"
	// RoleViewer reads everything.
	RoleViewer Role = "viewer"
	// RoleOperator reads everything and writes strategies.
	RoleOperator Role = "operator"
)

// Roles lists the roles, least powerful first.
func Roles() []Role { return []Role{RoleScheduler, RoleViewer, RoleOperator} }

// ParseRole returns the role called s.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(Roles(), r)
}

// Method is the kind of credential an identity was established with. It
// labels metrics and the audit trail.
type Method string

// The methods.
const (
	// MethodNone: no credential method is configured; the caller is the
	// anonymous operator on loopback.
	MethodNone Method = "none"
	// MethodKubernetes: a bearer token checked with TokenReview.
	MethodKubernetes Method = "kubernetes"
	// MethodToken: a static bearer token from the token file.
	MethodToken Method = "token"
	// MethodCertificate: a verified TLS client certificate.
	MethodCertificate Method = "certificate"
	// MethodScheduler: a token issued by POST /api/v1/auth/token.
	MethodScheduler Method = "scheduler-token"
)

// Identity is an authenticated caller, passed by value. Its Groups and
// Extra may be shared with the authenticator that made it (a cache of
// reviewed tokens hands the same ones to every request with the token):
// read them, never modify them.
type Identity struct {
	Name   string
	UID    string
	Groups []string
	// Extra is what the Kubernetes API server says of a token's user
	// beyond its groups (the pod a ServiceAccount token is bound to, the
	// token's ID); SubjectAccessReview takes it back.
	Extra  map[string][]string
	Method Method
	// Role is the role the credential carries. Empty for identities that
	// are authorized by the Kubernetes API server (SubjectAccessReview).
	Role Role

	// who encodes Name, UID, Groups and Extra for the access review cache,
	// made once by the authenticator that reviewed the token instead of
	// on every request; empty: encoded when needed.
	who string
}

// Anonymous is the identity of every request when no credential method is
// configured.
func Anonymous() Identity {
	return Identity{Name: "anonymous", Method: MethodNone, Role: RoleOperator}
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the Guard attached to a request's
// context, and whether there is one.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
