package httpapi

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// route is one entry of the API surface.
type route struct {
	pattern     string // net/http method pattern
	description string
	handler     http.Handler
}

// routeTable is the whole API on one screen. GET / and the OpenAPI tests are
// generated from it, so the three cannot drift apart.
func (s *server) routeTable() []route {
	return []route{
		{"GET /{$}", "Describe the service and list every endpoint", http.HandlerFunc(s.handleInfo)},
		{"GET /health", "Health of the service and its components (seed format)", http.HandlerFunc(s.handleHealth)},
		{"GET /healthz", "Liveness probe", http.HandlerFunc(s.handleLiveness)},
		{"GET /readyz", "Readiness probe; 503 while starting, stopping or a critical component is down", http.HandlerFunc(s.handleReadiness)},
		{"GET /metrics", "Prometheus metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})},
		{"GET /api/v1/openapi.yaml", "OpenAPI 3 description of this API", http.HandlerFunc(s.handleOpenAPI)},

		{"POST /api/v1/metrics", "Submit BSS metrics: one object, or an array of up to 1000", http.HandlerFunc(s.handlePostMetrics)},
		{"GET /api/v1/metrics", "Latest metrics sample", http.HandlerFunc(s.handleLatestMetrics)},
		{"GET /api/v1/metrics/history", "Metric samples in a time range, oldest first (?since=&until=&limit=)", http.HandlerFunc(s.handleMetricsHistory)},
		{"GET /api/v1/scheduling/strategies", "Resolved strategies for the scheduler: one entry per PID, sorted (?verbose=true adds why)", http.HandlerFunc(s.handleGetStrategies)},
		{"POST /api/v1/scheduling/strategies", "Replace every strategy, atomically", http.HandlerFunc(s.handlePostStrategies)},
		{"GET /api/v1/scheduling/strategies/definitions", "The stored strategies as written, with their names", http.HandlerFunc(s.handleGetDefinitions)},
		{"PUT /api/v1/scheduling/strategies/definitions/{name}", "Create or replace one strategy", http.HandlerFunc(s.handlePutDefinition)},
		{"DELETE /api/v1/scheduling/strategies/definitions/{name}", "Delete one strategy", http.HandlerFunc(s.handleDeleteDefinition)},
		{"POST /api/v1/scheduling/strategies/preview", "Resolve strategies without saving them, with match counts", http.HandlerFunc(s.handlePreview)},
		{"GET /api/v1/scheduling/strategies/explain", "For each resolved PID, every strategy that matched and the winner", http.HandlerFunc(s.handleExplain)},
		{"GET /api/v1/pods/pids", "Processes of every pod on this node, by pod and container (?namespace=&label_selector=&pod_uid=&pid=&container_id=&include_threads=)", http.HandlerFunc(s.handlePodPIDs)},
		{"GET /api/v1/metrics/summary", "Counter rates and gauge min/avg/max over a window (?window=5m)", http.HandlerFunc(s.handleMetricsSummary)},
	}
}

// endpoint is how GET / presents a route.
type endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Description string `json:"description"`
}

func (rt route) endpoint() endpoint {
	method, path, _ := strings.Cut(rt.pattern, " ")
	return endpoint{Method: method, Path: strings.TrimSuffix(path, "{$}"), Description: rt.description}
}
