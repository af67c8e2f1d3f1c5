package metrics_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/memory"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newRecorder(clk *fakeClock) *metrics.Recorder {
	return metrics.NewRecorder(memory.NewHistory(1000, time.Hour, clk.Now), clk.Now)
}

func TestRecorderGivesUniqueIncreasingTimes(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1_750_000_000, 0)} // frozen: every call returns the same time
	r := newRecorder(clk)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			b := metrics.Batch{Samples: []metrics.Sample{{NrQueued: uint64(i)}, {NrQueued: uint64(i)}}}
			if _, err := r.Record(ctx, b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	recs, more, err := r.Range(ctx, metrics.Query{})
	if err != nil || more {
		t.Fatalf("Range() more=%v err=%v", more, err)
	}
	if len(recs) != 40 {
		t.Fatalf("got %d records, want 40", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if !recs[i].ReceivedAt.After(recs[i-1].ReceivedAt) {
			t.Fatalf("record %d at %v is not after record %d at %v", i, recs[i].ReceivedAt, i-1, recs[i-1].ReceivedAt)
		}
	}
	latest, ok, err := r.Latest(ctx)
	if err != nil || !ok || !latest.ReceivedAt.Equal(recs[39].ReceivedAt) {
		t.Errorf("Latest() = %v, %v, %v; want the newest record %v", latest.ReceivedAt, ok, err, recs[39].ReceivedAt)
	}
}

func TestRecorderSummaryWindow(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1_750_000_000, 0)}
	r := newRecorder(clk)
	for i := range 10 {
		if _, err := r.Record(ctx, metrics.Batch{Samples: []metrics.Sample{{NrUserDispatches: uint64(i * 60)}}}); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute)
	}
	// Now is 10 minutes after the first sample; a 5m window holds the samples
	// at minutes 5..9: dispatches 300..540, 60 per minute = 1 per second.
	sum, err := r.Summary(ctx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != 5 {
		t.Errorf("Samples = %d, want 5", sum.Samples)
	}
	if got := sum.Rates["nr_user_dispatches"]; got < 0.999 || got > 1.001 {
		t.Errorf("rate = %v, want 1/s", got)
	}
}

func TestCollectorStaleness(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1_750_000_000, 0)}
	r := newRecorder(clk)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(r, "node-a", time.Minute))

	if n := seriesCount(t, reg, "bss_nr_queued"); n != 0 {
		t.Fatalf("before any push: %d bss_nr_queued series, want 0", n)
	}
	if _, err := r.Record(ctx, metrics.Batch{Samples: []metrics.Sample{{NrQueued: 10, NrUserDispatches: 100}}}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP bss_nr_queued Number of tasks queued in the userspace scheduler.
# TYPE bss_nr_queued gauge
bss_nr_queued{node="node-a"} 10
# HELP bss_nr_user_dispatches_total Number of userspace dispatches.
# TYPE bss_nr_user_dispatches_total counter
bss_nr_user_dispatches_total{node="node-a"} 100
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "bss_nr_queued", "bss_nr_user_dispatches_total"); err != nil {
		t.Error(err)
	}
	clk.Add(61 * time.Second)
	if n := seriesCount(t, reg, "bss_nr_queued"); n != 0 {
		t.Errorf("after the staleness period: %d bss_nr_queued series, want 0", n)
	}
	if n := seriesCount(t, reg, "bss_last_push_timestamp_seconds"); n != 1 {
		t.Errorf("bss_last_push_timestamp_seconds: %d series, want 1 (it tells how stale the scheduler is)", n)
	}
}

func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countingHistory counts Latest calls.
type countingHistory struct {
	metrics.History
	latest int
}

func (h *countingHistory) Latest(ctx context.Context) (metrics.Record, bool, error) {
	h.latest++
	return h.History.Latest(ctx)
}

// After a restart, the stored latest record is served from memory: health
// probes and scrapes do not query the store for it.
func TestPrimeKeepsTheStoredLatest(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	stored := memory.NewHistory(1000, time.Hour, clk.Now)
	before := metrics.NewRecorder(stored, clk.Now)
	if _, err := before.Record(ctx, metrics.Batch{Samples: []metrics.Sample{{NrQueued: 7}}}); err != nil {
		t.Fatal(err)
	}
	h := &countingHistory{History: stored}
	after := metrics.NewRecorder(h, clk.Now)
	if err := after.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec, ok, err := after.Latest(ctx)
		if err != nil || !ok || rec.NrQueued != 7 {
			t.Fatalf("Latest = %+v, %v, %v; want the stored sample", rec, ok, err)
		}
	}
	if h.latest != 1 {
		t.Errorf("the store was asked for the latest sample %d times, want once (by Prime)", h.latest)
	}
}
