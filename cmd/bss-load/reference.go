package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// referenceMetrics holds the 11 counters of the seed's POST body.
type referenceMetrics struct {
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

type referenceReply struct {
	Success   bool   `json:"success"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

var referenceGetReply = []byte(`{"success":true,"message":"ok"}` + "\n")

// referenceHandler is the smallest honest server for the same requests:
// a plain ServeMux, no logging, no middleware.
func referenceHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var m referenceMetrics
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		reply, err := json.Marshal(referenceReply{
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
		_, _ = w.Write(referenceGetReply)
	})
	return mux
}

// serveReference runs the reference server on listen until ctx is done.
func serveReference(ctx context.Context, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: referenceHandler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
