package httpapi

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/bss-api/bss-api/internal/health"
)

//go:embed openapi.yaml
var openapiYAML []byte

func getOpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(doc)
	})
}

type infoResponse struct {
	envelope
	Service   string     `json:"service"`
	Version   string     `json:"version"`
	Node      string     `json:"node"`
	Endpoints []endpoint `json:"endpoints"`
}

func getInfo(version, node string, index *endpointList, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.json(w, r, http.StatusOK, infoResponse{
			envelope:  ok(now(), "API information retrieved successfully"),
			Service:   ServiceName,
			Version:   version,
			Node:      node,
			Endpoints: index.all,
		})
	})
}

type healthResponse struct {
	Status     string                   `json:"status"`
	Timestamp  string                   `json:"timestamp"`
	Service    string                   `json:"service"`
	Version    string                   `json:"version,omitempty"`
	Components map[string]health.Report `json:"components,omitempty"`
}

// detailFunc reports whether the caller of r may see health details
// (component states, their messages, the version): they name files,
// hosts and errors, so only callers who may read health details see them.
type detailFunc func(r *http.Request) bool

// withoutDetail keeps each component's state and drops its message.
func withoutDetail(cs map[string]health.Report) map[string]health.Report {
	out := make(map[string]health.Report, len(cs))
	for name, c := range cs {
		out[name] = health.Report{State: c.State}
	}
	return out
}

// getHealth answers in the seed's format: "healthy" while no component
// is down, else "unhealthy" with 503.
func getHealth(gate *health.Gate, checks []health.Check, version string, detail detailFunc, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := health.Evaluate(r.Context(), gate, checks)
		status, code := "healthy", http.StatusOK
		if !res.Healthy {
			status, code = "unhealthy", http.StatusServiceUnavailable
		}
		body := healthResponse{Status: status, Timestamp: now().UTC().Format(time.RFC3339), Service: ServiceName}
		if detail(r) {
			body.Version, body.Components = version, res.Components
		}
		rs.json(w, r, code, body)
	})
}

type probeResponse struct {
	Status     string                   `json:"status"`
	Timestamp  string                   `json:"timestamp"`
	Components map[string]health.Report `json:"components,omitempty"`
}

// getLiveness reports that the process serves requests. It checks no
// dependency, so a broken dependency never gets the pod restarted.
func getLiveness(now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.json(w, r, http.StatusOK, probeResponse{Status: "ok", Timestamp: now().UTC().Format(time.RFC3339)})
	})
}

func getReadiness(gate *health.Gate, checks []health.Check, detail detailFunc, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := health.Evaluate(r.Context(), gate, checks)
		status, code := "ready", http.StatusOK
		if !res.Ready {
			status, code = "not ready", http.StatusServiceUnavailable
		}
		components := res.Components
		if !detail(r) {
			components = withoutDetail(components)
		}
		rs.json(w, r, code, probeResponse{
			Status:     status,
			Timestamp:  now().UTC().Format(time.RFC3339),
			Components: components,
		})
	})
}
