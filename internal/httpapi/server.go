// Package httpapi is bss-api's HTTP surface: the route table, the handlers,
// the JSON envelope and the middleware. It depends on the domain packages
// through small interfaces declared here.
package httpapi

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
)

// ServiceName is the name the seed's /health reports.
const ServiceName = "BSS Metrics API Server"

// MetricsService records and reads BSS counter samples.
type MetricsService interface {
	Record(ctx context.Context, b metrics.Batch) (time.Time, error)
	Latest(ctx context.Context) (metrics.Record, bool, error)
	Range(ctx context.Context, q metrics.Query) ([]metrics.Record, bool, error)
	Summary(ctx context.Context, window time.Duration) (metrics.Summary, error)
}

// Config holds everything the HTTP layer needs. All fields are required
// unless marked optional.
type Config struct {
	Logger *slog.Logger
	// Registry receives the HTTP request metrics and is served at /metrics.
	Registry *prometheus.Registry
	Metrics  MetricsService
	// Pods is the joined view of the node's pods and processes.
	Pods PodView
	// Strategies stores strategies and resolves them.
	Strategies StrategyService
	Gate       *health.Gate
	Checks     []health.Check // optional

	Version string
	Node    string
	Now     func() time.Time

	CORSOrigins  []string
	MaxBodyBytes int64
	// MaxHistoryWindow bounds the summary's window (optional; 0: no bound).
	MaxHistoryWindow time.Duration
}

type server struct {
	Config
	log     *slog.Logger
	respond responder
	metrics *httpMetrics
	mux     *http.ServeMux
	routes  []route
	// endpoints describe routes, in order, for GET /.
	endpoints []endpoint
	pods      *podsEncoder
	// epoch is random per server: snapshot versions restart at every
	// start, so without it a tag from before a restart could match
	// different content after it.
	epoch string

	strategyCache bodyCache // GET strategies: [0] plain, [1] verbose
}

var errPanic = apperr.Errorf(apperr.Internal, "internal server error")

// New returns the server's root handler with all middleware applied once.
func New(cfg Config) http.Handler {
	s := &server{
		Config:  cfg,
		log:     cfg.Logger,
		respond: responder{log: cfg.Logger},
		metrics: newHTTPMetrics(cfg.Registry),
		mux:     http.NewServeMux(),
		pods:    &podsEncoder{node: cfg.Node},
		epoch:   newEpoch(),
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		ep := rt.endpoint()
		s.endpoints = append(s.endpoints, ep)
		s.mux.Handle(rt.pattern, s.observe(ep.Method+" "+ep.Path, rt.handler))
	}
	unmatched := s.observe("unmatched", http.HandlerFunc(s.unmatched))
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern == "" {
			unmatched.ServeHTTP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
	return corsMiddleware(cfg.CORSOrigins).Handler(root)
}

func corsMiddleware(origins []string) *cors.Cors {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Content-Type", "If-None-Match", "Authorization"},
		ExposedHeaders: []string{"ETag"},
		MaxAge:         600,
	})
}

// unmatched answers requests that no route pattern matched with the JSON
// envelope: 404 for an unknown path, 405 with Allow for a known path and
// the wrong method. Redirects for unclean paths pass through unchanged.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request) {
	c := &captureWriter{header: http.Header{}}
	s.mux.ServeHTTP(c, r)
	switch c.code {
	case http.StatusMethodNotAllowed:
		allow := c.header.Get("Allow")
		w.Header().Set("Allow", allow)
		s.respond.json(w, r, http.StatusMethodNotAllowed, envelope{Error: "method " + r.Method +
			" is not allowed on " + r.URL.Path + "; allowed: " + allow})
	case http.StatusNotFound:
		s.respond.json(w, r, http.StatusNotFound, envelope{Error: "no endpoint at " + r.URL.Path +
			"; GET / lists every endpoint"})
	default:
		maps.Copy(w.Header(), c.header)
		w.WriteHeader(c.code)
		_, _ = w.Write(c.body)
	}
}

// captureWriter holds what the mux's built-in fallback handlers write, so
// unmatched can turn it into JSON.
type captureWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	c.body = append(c.body, b...)
	return len(b), nil
}
