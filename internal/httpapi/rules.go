package httpapi

import (
	"log/slog"

	"github.com/bss-api/bss-api/internal/auth"
)

// RouteRule is one route's authorization rule, with the route's method and
// path as GET / lists them.
type RouteRule struct {
	Method string
	Path   string
	Rule   auth.Rule
}

// RouteRules returns the rule of every route, in route table order, so
// tests outside this package (the authorization matrix against a real
// server) take the rules from the table instead of repeating them. The
// handlers built on the way serve nothing.
func RouteRules() []RouteRule {
	cfg := Config{Logger: slog.New(slog.DiscardHandler), Guard: auth.NewGuard(auth.GuardOptions{})}
	var rules []RouteRule
	for _, rt := range routeTable(cfg, responder{log: cfg.Logger}, newETags(), newWatcher(WatchOptions{}, nil), &endpointList{}) {
		ep := rt.endpoint()
		rules = append(rules, RouteRule{Method: ep.Method, Path: ep.Path, Rule: rt.rule})
	}
	return rules
}
