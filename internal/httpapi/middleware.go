package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/apperr"
)

// statusWriter records what a handler wrote, for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpMetrics are the server's own request metrics, labelled by route
// pattern (never the raw path, whose cardinality is unbounded).
type httpMetrics struct {
	inFlight prometheus.Gauge
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bss_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bss_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.inFlight, m.requests, m.duration)
	return m
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// observer wraps each route's handler with panic recovery, one
// structured log line per request, and request metrics.
type observer struct {
	rs      responder
	metrics *httpMetrics
}

// errPanic is what a client sees of a panic.
var errPanic = apperr.Errorf(apperr.Internal, "internal server error")

// wrap returns next observed; route is the pattern that matched.
func (o observer) wrap(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o.metrics.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			abort := false
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					abort = true
				} else {
					o.rs.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
						slog.String("method", r.Method), slog.String("path", r.URL.Path),
						slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
					if sw.status == 0 {
						o.rs.error(sw, r, errPanic)
					} else {
						// Part of a response is out: abort the connection
						// rather than let it pass for a complete one.
						abort = true
						sw.status = http.StatusInternalServerError
					}
				}
			}
			o.metrics.inFlight.Dec()
			o.finish(r, route, sw, time.Since(start))
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func (o observer) finish(r *http.Request, route string, sw *statusWriter, took time.Duration) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	method := methodLabel(r.Method)
	o.metrics.requests.WithLabelValues(route, method, strconv.Itoa(sw.status)).Inc()
	o.metrics.duration.WithLabelValues(route, method).Observe(took.Seconds())

	level := slog.LevelInfo
	if sw.status >= 500 {
		level = slog.LevelError
	}
	log := o.rs.log
	if !log.Enabled(r.Context(), level) {
		return
	}
	log.LogAttrs(r.Context(), level, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", route),
		slog.Int("status", sw.status),
		slog.Int64("bytes", sw.bytes),
		slog.Duration("duration", took),
		slog.String("remote", r.RemoteAddr),
	)
}
