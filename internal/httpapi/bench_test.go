package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/reference"
)

const benchBody = `{"usersched_pid":1234,"nr_queued":10,"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8,"nr_user_dispatches":100,"nr_kernel_dispatches":50,"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,"nr_failed_dispatches":0,"nr_sched_congested":3}`

// BenchmarkPostMetricsHandler measures the full handler stack in process
// (CORS, routing, metrics, logging to a discarding handler, decode, store,
// reply), without the network. Compare with BenchmarkReferenceHandler.
func BenchmarkPostMetricsHandler(b *testing.B) {
	cfg := newTestConfig(b, &fakeClock{now: start})
	cfg.Now = time.Now
	cfg.Bodies = BodyLimits{MinRate: 1 << 10, Timeout: 30 * time.Second, InFlight: 64 << 20} // as app sets them
	benchHandler(b, New(cfg))
}

// BenchmarkReferenceHandler is the floor: decode into a struct with
// encoding/json and write a small JSON reply, nothing else.
func BenchmarkReferenceHandler(b *testing.B) {
	benchHandler(b, reference.Handler())
}

func benchHandler(b *testing.B, h http.Handler) {
	b.Helper()
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/metrics", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
