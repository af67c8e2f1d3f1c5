package httpapi

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/web"
)

// route is one entry of the API surface. New wraps every handler in the
// same middleware; whatever a route needs beyond its handler (such as who
// may call it) is a field here, so the table keeps saying all of it.
type route struct {
	pattern     string // net/http method pattern
	description string
	rule        auth.Rule // who may call it; every route states one
	handler     http.Handler
}

// routeTable is the whole API on one screen, each handler given exactly
// what it uses. GET / and the OpenAPI tests are generated from it, so the
// three cannot drift apart; New fills index from it.
func routeTable(cfg Config, rs responder, tags etags, watch *watcher, index *endpointList) []route {
	now, limit, node := cfg.Now, cfg.MaxBodyBytes, cfg.Node
	detail := func(r *http.Request) bool {
		id, _ := auth.IdentityFrom(r.Context())
		return cfg.Guard.Permits(r.Context(), id, auth.ReadHealthDetail)
	}
	public, need := auth.Public(), auth.Require
	return []route{
		{"GET /{$}", "Describe the service and list every endpoint", public, getInfo(cfg.Version, node, index, now, rs)},
		{"GET /health", "Health of the service and its components (seed format)", public, getHealth(cfg.Gate, cfg.Checks, cfg.Version, detail, now, rs)},
		{"GET /healthz", "Liveness probe", public, getLiveness(now, rs)},
		{"GET /readyz", "Readiness probe; 503 while starting, stopping or a critical component is down", public, getReadiness(cfg.Gate, cfg.Checks, detail, now, rs)},
		{"GET /metrics", "Prometheus metrics", need(auth.ReadPrometheus), promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})},
		{"GET /api/v1/openapi.yaml", "OpenAPI 3 description of this API", need(auth.ReadOpenAPI), getOpenAPI(openapiYAML)},
		{"POST /api/v1/auth/token", "Get a scheduler token by presenting the scheduler's public key", public, postToken(cfg.SchedulerTokens, cfg.TokenLimits, now, rs)},
		{"GET /api/v1/auth/whoami", "Who the server takes the caller for, and which routes the caller may call", public, getWhoami(cfg.Guard, node, index, now, rs)},
		// The dashboard's files (HTML, CSS, JavaScript) hold no data, so
		// they are public; the page calls the API with the caller's token.
		// The pattern covers every file beneath /ui/; GET /ui is
		// redirected here by the mux. openapi.yaml describes the page
		// (GET /ui/) as text/html and names no file beneath it.
		{"GET " + web.Prefix, "The dashboard (HTML page; its scripts and styles are served beneath /ui/)", public, web.Handler()},

		{"POST /api/v1/metrics", "Submit BSS metrics: one object, or an array of up to 1000", need(auth.PostMetrics), postMetrics(cfg.Metrics, limit, now, rs)},
		{"GET /api/v1/metrics", "Latest metrics sample", need(auth.ReadLatestMetrics), getLatestMetrics(cfg.Metrics, node, now, rs)},
		{"GET /api/v1/metrics/history", "Metric samples in a time range, oldest first (?since=&until=&limit=)", need(auth.ReadHistory), getMetricsHistory(cfg.Metrics, node, now, rs)},
		{"GET /api/v1/scheduling/strategies", "Resolved strategies for the scheduler: one entry per PID, sorted (?verbose=true adds why)", need(auth.ReadResolved), getResolved(cfg.Resolution, cfg.PriorityFormat, tags, watch, cfg.MaxCachedBody, now, rs)},
		{"POST /api/v1/scheduling/strategies", "Replace every strategy, atomically", need(auth.WriteStrategies), postStrategies(cfg.Strategies, limit, now, rs)},
		{"GET /api/v1/scheduling/strategies/definitions", "The stored strategies as written, with their names", need(auth.ReadDefinitions), getDefinitions(cfg.Strategies, now, rs)},
		{"PUT /api/v1/scheduling/strategies/definitions/{name}", "Create or replace one strategy", need(auth.WriteStrategies), putDefinition(cfg.Strategies, limit, now, rs)},
		{"DELETE /api/v1/scheduling/strategies/definitions/{name}", "Delete one strategy", need(auth.DeleteStrategies), deleteDefinition(cfg.Strategies, now, rs)},
		{"POST /api/v1/scheduling/strategies/preview", "Resolve strategies without saving them, with match counts", need(auth.PreviewStrategies), postPreview(cfg.Strategies, cfg.PriorityFormat, limit, now, rs)},
		{"GET /api/v1/scheduling/strategies/explain", "For each resolved PID, every strategy that matched and the winner", need(auth.ExplainStrategies), getExplain(cfg.Strategies, now, rs)},
		{"GET /api/v1/pods/pids", "Processes of every pod on this node, by pod and container (?namespace=&label_selector=&pod_uid=&pid=&container_id=&include_threads=)", need(auth.ReadProcesses), getPodPIDs(cfg.Pods, node, tags, watch, cfg.MaxCachedBody, now, rs)},
		{"GET /api/v1/metrics/summary", "Counter rates and gauge min/avg/max over a window (?window=5m)", need(auth.ReadHistory), getMetricsSummary(cfg.Metrics, cfg.MaxHistoryWindow, node, now, rs)},
		{"GET /api/v1/audit", "Audit trail: strategy changes and refused writes, oldest first (?since=&until=&limit=)", need(auth.ReadAudit), getAudit(cfg.Audit, now, rs)},
	}
}

// endpoint is how GET / presents a route, with who may call it (for GET
// /api/v1/auth/whoami; not listed).
type endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Description string `json:"description"`
	rule        auth.Rule
}

func (rt route) endpoint() endpoint {
	method, path, _ := strings.Cut(rt.pattern, " ")
	return endpoint{Method: method, Path: strings.TrimSuffix(path, "{$}"), Description: rt.description, rule: rt.rule}
}

// endpointList is what GET / lists. New fills it from the route table
// before the handler serves anything; it is read-only after that.
type endpointList struct {
	all []endpoint
}
