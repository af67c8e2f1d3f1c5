package auth

import (
	"fmt"
	"slices"
)

// Group is the API group of the resources bss-api authorizes, for
// SubjectAccessReview and RBAC. The resources exist only as names to grant:
// there is no such API on the Kubernetes API server.
const Group = "api.bss-api.io"

// Permission is what a route needs, in Kubernetes authorization terms:
// a verb on a resource (and subresource) of Group, or a verb on a
// non-resource path. It is comparable.
//
// A non-resource path is asked of the Kubernetes API server as it is, so
// it must not be one that Kubernetes' default ClusterRoles grant to every
// authenticated user (system:discovery: /api/*, /apis/*, /openapi/*,
// /healthz, /livez, /readyz, /version): such a permission would be
// everyone's. That is why the OpenAPI document is the resource "openapi".
// (/metrics is granted by default to the group system:monitoring only.)
type Permission struct {
	Verb        string
	Resource    string
	Subresource string
	// Path is a non-resource URL, such as /metrics; set instead of
	// Resource.
	Path string
}

// String renders p as RBAC does: "get metrics/history", "get /metrics".
func (p Permission) String() string {
	if p.Path != "" {
		return p.Verb + " " + p.Path
	}
	if p.Subresource != "" {
		return p.Verb + " " + p.Resource + "/" + p.Subresource
	}
	return p.Verb + " " + p.Resource
}

// The permissions of bss-api's routes.
var (
	PostMetrics       = Permission{Verb: "create", Resource: "metrics"}
	ReadLatestMetrics = Permission{Verb: "get", Resource: "metrics"}
	ReadHistory       = Permission{Verb: "get", Resource: "metrics", Subresource: "history"}
	ReadResolved      = Permission{Verb: "get", Resource: "strategies", Subresource: "resolved"}
	ReadDefinitions   = Permission{Verb: "get", Resource: "strategies"}
	ExplainStrategies = Permission{Verb: "get", Resource: "strategies", Subresource: "explain"}
	WriteStrategies   = Permission{Verb: "update", Resource: "strategies"}
	DeleteStrategies  = Permission{Verb: "delete", Resource: "strategies"}
	PreviewStrategies = Permission{Verb: "create", Resource: "strategies", Subresource: "preview"}
	ReadProcesses     = Permission{Verb: "get", Resource: "processes"}
	ReadAudit         = Permission{Verb: "get", Resource: "audit"}
	ReadOpenAPI       = Permission{Verb: "get", Resource: "openapi"}
	ReadPrometheus    = Permission{Verb: "get", Path: "/metrics"}
	ReadHealthDetail  = Permission{Verb: "get", Path: "/health"}
)

// RolePermissions returns what role r may do, in a new slice.
func RolePermissions(r Role) []Permission {
	scheduler := []Permission{PostMetrics, ReadLatestMetrics, ReadResolved, ReadProcesses}
	viewer := []Permission{ReadLatestMetrics, ReadHistory, ReadResolved, ReadDefinitions, ExplainStrategies,
		ReadProcesses, ReadAudit, ReadOpenAPI, ReadPrometheus, ReadHealthDetail}
	switch r {
	case RoleScheduler:
		return scheduler
	case RoleViewer:
		return viewer
	case RoleOperator:
		return append(viewer, WriteStrategies, DeleteStrategies, PreviewStrategies)
	}
	return nil
}

// Allows reports whether role r has permission p.
func Allows(r Role, p Permission) bool { return slices.Contains(RolePermissions(r), p) }

// Rule is a route's authorization rule: public, or one permission.
type Rule struct {
	public     bool
	permission Permission
}

// Public is the rule of routes anyone may call: probes, the service
// description, the token endpoint.
func Public() Rule { return Rule{public: true} }

// Require is the rule of routes that need permission p.
func Require(p Permission) Rule { return Rule{permission: p} }

// IsPublic reports whether the rule lets anyone through.
func (r Rule) IsPublic() bool { return r.public }

// Permission returns what the rule requires; zero for a public rule.
func (r Rule) Permission() Permission { return r.permission }

// Valid reports whether the rule was made by Public or Require: the zero
// Rule is neither, so a route that forgot its rule is caught.
func (r Rule) Valid() bool { return r.public || r.permission.Verb != "" }

func (r Rule) String() string {
	if r.public {
		return "public"
	}
	return fmt.Sprintf("requires %s", r.permission)
}
