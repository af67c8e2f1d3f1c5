package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

func TestCommitterGroupsAndAnswersAfterCommit(t *testing.T) {
	var commits, stored atomic.Int64
	c := New(func(_ context.Context, recs []metrics.Record) error {
		commits.Add(1)
		stored.Add(int64(len(recs)))
		return nil
	})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := c.Append(context.Background(), make([]metrics.Record, 2)); err != nil {
				t.Error(err)
			}
		})
	}
	// Every append is queued before the committer starts: one commit
	// must take them all.
	deadline := time.Now().Add(10 * time.Second)
	for len(c.ch) < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d appends queued", len(c.ch))
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	wg.Wait()
	if stored.Load() != 100 || commits.Load() != 1 {
		t.Errorf("%d records in %d commits, want 100 in 1", stored.Load(), commits.Load())
	}
	cancel()
	<-done
	if err := c.Append(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Run stopped = %v, want ErrClosed", err)
	}
}

func TestCommitterReportsFailure(t *testing.T) {
	boom := errors.New("disk full")
	c := New(func(context.Context, []metrics.Record) error { return boom })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	if err := c.Append(context.Background(), make([]metrics.Record, 1)); !errors.Is(err, boom) {
		t.Errorf("Append = %v, want the commit's error", err)
	}
}
