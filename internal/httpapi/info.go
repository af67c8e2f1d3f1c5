package httpapi

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/bss-api/bss-api/internal/health"
)

//go:embed openapi.yaml
var openapiYAML []byte

func (s *server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiYAML)
}

type infoResponse struct {
	envelope
	Service   string     `json:"service"`
	Version   string     `json:"version"`
	Node      string     `json:"node"`
	Endpoints []endpoint `json:"endpoints"`
}

func (s *server) handleInfo(w http.ResponseWriter, r *http.Request) {
	s.respond.json(w, r, http.StatusOK, infoResponse{
		envelope:  ok(s.Now(), "API information retrieved successfully"),
		Service:   ServiceName,
		Version:   s.Version,
		Node:      s.Node,
		Endpoints: s.endpoints,
	})
}

type healthResponse struct {
	Status     string                   `json:"status"`
	Timestamp  string                   `json:"timestamp"`
	Service    string                   `json:"service"`
	Version    string                   `json:"version"`
	Components map[string]health.Report `json:"components"`
}

// handleHealth answers in the seed's format: "healthy" while no component
// is down, else "unhealthy" with 503.
func (s *server) handleHealth(w http.ResponseWriter, r *http.Request) {
	res := health.Evaluate(r.Context(), s.Gate, s.Checks)
	status, code := "healthy", http.StatusOK
	if !res.Healthy {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	s.respond.json(w, r, code, healthResponse{
		Status:     status,
		Timestamp:  s.Now().UTC().Format(time.RFC3339),
		Service:    ServiceName,
		Version:    s.Version,
		Components: res.Components,
	})
}

type probeResponse struct {
	Status     string                   `json:"status"`
	Timestamp  string                   `json:"timestamp"`
	Components map[string]health.Report `json:"components,omitempty"`
}

// handleLiveness reports that the process serves requests. It checks no
// dependency, so a broken dependency never gets the pod restarted.
func (s *server) handleLiveness(w http.ResponseWriter, r *http.Request) {
	s.respond.json(w, r, http.StatusOK, probeResponse{Status: "ok", Timestamp: s.Now().UTC().Format(time.RFC3339)})
}

func (s *server) handleReadiness(w http.ResponseWriter, r *http.Request) {
	res := health.Evaluate(r.Context(), s.Gate, s.Checks)
	status, code := "ready", http.StatusOK
	if !res.Ready {
		status, code = "not ready", http.StatusServiceUnavailable
	}
	s.respond.json(w, r, code, probeResponse{
		Status:     status,
		Timestamp:  s.Now().UTC().Format(time.RFC3339),
		Components: res.Components,
	})
}
