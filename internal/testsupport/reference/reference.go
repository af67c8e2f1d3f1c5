// Package reference is the floor bss-api's speed is measured against: a
// minimal server for the same POST /api/v1/metrics (plain net/http,
// encoding/json into a struct, a small JSON reply), used by the load
// command's reference server and by the handler benchmarks.
package reference

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// metricsBody holds the 11 counters of the seed's POST body.
type metricsBody struct {
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

type reply struct {
	Success   bool   `json:"success"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

var getReply = []byte(`{"success":true,"message":"ok"}` + "\n")

// Handler is the smallest honest server for the same requests: a plain
// ServeMux, no logging, no middleware.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var m metricsBody
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		reply, err := json.Marshal(reply{
			Success:   true,
			Message:   "Metrics received successfully",
			Timestamp: time.Now().UTC().Format(time.RFC3339),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(getReply)
	})
	return mux
}
