// Package httpapi is bss-api's HTTP surface: the route table, the handlers,
// the JSON envelope and the middleware. It depends on the domain packages
// through small interfaces declared next to the handlers that use them.
package httpapi

import (
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/health"
)

// ServiceName is the name the seed's /health reports.
const ServiceName = "BSS Metrics API Server"

// Config holds everything the HTTP layer needs. All fields are required
// unless marked optional. New hands each handler only the fields it uses.
type Config struct {
	Logger *slog.Logger
	// Registry receives the HTTP request metrics and is served at /metrics.
	Registry *prometheus.Registry
	Metrics  MetricsService
	// Pods is the joined view of the node's pods and processes.
	Pods PodView
	// Resolution is the current resolution of the stored strategies.
	Resolution Resolution
	// Strategies writes and reads the stored strategies.
	Strategies StrategyService
	Gate       *health.Gate
	Checks     []health.Check // optional
	// Guard authenticates callers and applies each route's rule
	// (optional: without one every caller is the anonymous operator).
	Guard *auth.Guard
	// Audit records refused writes and serves the audit trail.
	Audit AuditTrail
	// SchedulerTokens issues tokens at POST /api/v1/auth/token (optional:
	// without it that endpoint answers 404, not enabled). TokenLimits
	// bound its requests per client address; required with it.
	SchedulerTokens TokenIssuer
	TokenLimits     TokenLimits

	Version string
	Node    string
	Now     func() time.Time

	CORSOrigins  []string // allowed origins; none when empty
	MaxBodyBytes int64
	// Bodies bound request bodies as they arrive: their rate, their time,
	// and the bytes all of them hold together (optional).
	Bodies BodyLimits
	// MaxCachedBody bounds each answer kept encoded between requests (the
	// pods and resolved strategies, plain and gzipped, two forms each); a
	// larger one is built per request (optional; 0: no bound).
	MaxCachedBody int64
	// AllowHost, when set, is asked about every request's Host (without
	// its port) before any route; a host it refuses is answered 403. A
	// server without credentials sets it against DNS rebinding.
	AllowHost func(host string) bool
	// WriteRate and WriteBurst limit each caller's strategy writes
	// (POST, PUT and DELETE of strategies, and preview); 429 past them.
	// Optional: a WriteRate of 0 sets no limit.
	WriteRate  float64
	WriteBurst int
	// MaxHistoryWindow bounds the summary's window (optional; 0: no bound).
	MaxHistoryWindow time.Duration
	// Watch configures blocking queries (optional: zero values hold
	// requests up to 5 minutes and answer them at once only when their
	// connection ends).
	Watch WatchOptions
	// PriorityFormat is how resolved entries carry their priority
	// (optional; the zero value is PriorityBool, the seed's).
	PriorityFormat PriorityFormat
}

// New returns the server's root handler with all middleware applied once.
func New(cfg Config) http.Handler {
	if cfg.Guard == nil {
		cfg.Guard = auth.NewGuard(auth.GuardOptions{})
	}
	rs := responder{log: cfg.Logger}
	obs := observer{rs: rs, metrics: newHTTPMetrics(cfg.Registry)}
	cfg.Registry.MustRegister(newStateCollector(cfg))
	index := &endpointList{}
	audits := refusals{rec: cfg.Audit}
	var writes *writeLimit
	if cfg.WriteRate > 0 {
		writes = newWriteLimit(cfg.WriteRate, max(cfg.WriteBurst, 1), cfg.Now)
	}
	mux := http.NewServeMux()
	for _, rt := range routeTable(cfg, rs, newETags(), newWatcher(cfg.Watch, cfg.Registry), index) {
		ep := rt.endpoint()
		index.all = append(index.all, ep)
		h := rt.handler
		if writes != nil && isStrategyWrite(rt.rule) {
			h = writes.wrap(rs, audits, h)
		}
		mux.Handle(rt.pattern, obs.wrap(ep.Method+" "+ep.Path, guarded(cfg.Guard, rt.rule, rs, audits, h)))
	}
	fallback := obs.wrap("unmatched", unmatched(mux, rs))
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			fallback.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	h := newBodyGuard(cfg.Bodies).wrap(root)
	if len(cfg.CORSOrigins) > 0 {
		// Without origins there are no CORS headers at all, so a browser
		// keeps other sites' pages from reading any answer and from sending
		// anything that needs a preflight. (rs/cors would read an empty
		// list as "any origin".)
		h = corsMiddleware(cfg.CORSOrigins).Handler(h)
	}
	if cfg.AllowHost != nil {
		h = checkHost(cfg.AllowHost, obs, audits.routed(mux), h)
	}
	return h
}

func corsMiddleware(origins []string) *cors.Cors {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Content-Type", "If-None-Match", "Authorization"},
		ExposedHeaders: []string{"ETag", versionHeader},
		MaxAge:         600,
	})
}

// unmatched answers requests that no route pattern of mux matched with
// the JSON envelope: 404 for an unknown path, 405 with Allow for a known
// path and the wrong method. Redirects for unclean paths pass through
// unchanged.
func unmatched(mux *http.ServeMux, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &captureWriter{header: http.Header{}}
		mux.ServeHTTP(c, r)
		switch c.code {
		case http.StatusMethodNotAllowed:
			allow := c.header.Get("Allow")
			w.Header().Set("Allow", allow)
			rs.json(w, r, http.StatusMethodNotAllowed, envelope{Error: "method " + r.Method +
				" is not allowed on " + r.URL.Path + "; allowed: " + allow})
		case http.StatusNotFound:
			rs.json(w, r, http.StatusNotFound, envelope{Error: "no endpoint at " + r.URL.Path +
				"; GET / lists every endpoint"})
		default:
			maps.Copy(w.Header(), c.header)
			w.WriteHeader(c.code)
			_, _ = w.Write(c.body)
		}
	})
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

// guarded applies rule to every request before next sees it: the caller
// is authenticated and authorized by g, and its identity rides in the
// request's context. A refused request reaches no handler, so it changes
// nothing; a refused write is reported to audits.
func guarded(g *auth.Guard, rule auth.Rule, rs responder, audits refusals, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := g.Check(r, rule)
		if err != nil {
			audits.refused(r, id, err)
			rs.error(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}
