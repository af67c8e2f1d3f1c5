package procs

import (
	"context"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/health"
)

// Where processes cannot be listed (any system but Linux), the index
// still publishes at once, an empty snapshot, and says why in health:
// the server starts degraded instead of failing or waiting forever.
func TestRunUnavailable(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	ix := New(Options{Now: func() time.Time { return now }})
	ix.unavailable = "processes are not available on plan9"
	ch, unsubscribe := ix.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.runUnavailable(ctx) }()

	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot published")
	}
	s := ix.Snapshot()
	if s.Version != 1 || len(s.Pods) != 0 || s.NumProcesses() != 0 || !s.Taken.Equal(now) {
		t.Errorf("snapshot = version %d, %d pods, %d processes, taken %v; want version 1, empty, taken %v",
			s.Version, len(s.Pods), s.NumProcesses(), s.Taken, now)
	}
	want := health.Report{State: health.Degraded, Detail: ix.unavailable}
	if got := ix.Health(ctx); got != want {
		t.Errorf("Health() = %+v, want %+v", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v after cancel, want nil", err)
	}
}
