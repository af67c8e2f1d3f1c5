package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

const benchBody = `{"usersched_pid":1234,"nr_queued":10,"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8,"nr_user_dispatches":100,"nr_kernel_dispatches":50,"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,"nr_failed_dispatches":0,"nr_sched_congested":3}`

// BenchmarkPostMetricsHandler measures the full handler stack in process
// (CORS, routing, metrics, logging to a discarding handler, decode, store,
// reply), without the network. Compare with BenchmarkReferenceHandler.
func BenchmarkPostMetricsHandler(b *testing.B) {
	cfg := newTestConfig(&fakeClock{now: start})
	cfg.Now = time.Now
	benchHandler(b, New(cfg))
}

// BenchmarkReferenceHandler is the floor: decode into a struct with
// encoding/json and write a small JSON reply, nothing else.
func BenchmarkReferenceHandler(b *testing.B) {
	type bss struct {
		UserschedPID       uint32 `json:"usersched_pid"`
		NrQueued           uint64 `json:"nr_queued"`
		NrScheduled        uint64 `json:"nr_scheduled"`
		NrRunning          uint64 `json:"nr_running"`
		NrOnlineCPUs       uint64 `json:"nr_online_cpus"`
		NrUserDispatches   uint64 `json:"nr_user_dispatches"`
		NrKernelDispatches uint64 `json:"nr_kernel_dispatches"`
		NrCancelDispatches uint64 `json:"nr_cancel_dispatches"`
		NrBounceDispatches uint64 `json:"nr_bounce_dispatches"`
		NrFailedDispatches uint64 `json:"nr_failed_dispatches"`
		NrSchedCongested   uint64 `json:"nr_sched_congested"`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var v bss
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "message": "Metrics received successfully",
			"timestamp": time.Now().UTC().Format(time.RFC3339)})
	})
	benchHandler(b, mux)
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
