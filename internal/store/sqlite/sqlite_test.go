package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/storetest"
)

// openRunning opens a store at path and runs it until the test ends.
func openRunning(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, maxCount int, maxAge time.Duration, now func() time.Time) storetest.Stores {
		s := openRunning(t, filepath.Join(t.TempDir(), "bss.db"), Options{Node: "n1", MaxCount: maxCount, MaxAge: maxAge, Now: now})
		return storetest.Stores{History: s, Strategies: s}
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bss.db")
	// A database of the previous schema version, with data in it.
	old, err := Open(ctx, path, Options{targetVersion: LatestVersion() - 1})
	if err != nil {
		t.Fatal(err)
	}
	smp := metrics.Sample{UserschedPID: 1, NrQueued: 3, NrSchedCongested: 12}
	if _, err := old.write.ExecContext(ctx, `INSERT INTO metrics VALUES (42, 'n', ?)`, pack(&smp)); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openRunning(t, path, Options{MaxCount: 10, MaxAge: 1 << 62, Now: func() time.Time { return time.Unix(0, 100) }})
	got, _, err := s.Range(ctx, metrics.Query{})
	if err != nil || len(got) != 1 || got[0].NrQueued != 3 || got[0].NrSchedCongested != 12 {
		t.Fatalf("data of the previous version after migrating: %+v, %v", got, err)
	}
	if list, _, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("strategies table after migrating: %v, %v", list, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}

	// A database from a newer bss-api is refused, untouched.
	newer := filepath.Join(t.TempDir(), "newer.db")
	n, err := Open(ctx, newer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.write.ExecContext(ctx, `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := Open(ctx, newer, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this bss-api") {
		t.Errorf("Open(newer) = %v, want a refusal", err)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	s := openRunning(t, filepath.Join(t.TempDir(), "bss.db"), Options{MaxCount: 3, MaxAge: 100 * time.Second, Now: func() time.Time { return now }})
	var recs []metrics.Record
	for i := range 10 {
		recs = append(recs, metrics.Record{ReceivedAt: time.Unix(850+int64(i)*20, 0), Sample: metrics.Sample{NrQueued: uint64(i)}})
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.retain(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM metrics`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d rows after retention, want the newest 3 (%v)", n, err)
	}
}

// BenchmarkRangeHour queries one hour of a 100,000-sample history (24 h at
// one sample every 0.86 s): the p99 of the query latency is reported.
func BenchmarkRangeHour(b *testing.B) {
	ctx := context.Background()
	end := time.Unix(1_800_000_000, 0)
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{MaxCount: 200_000, MaxAge: 48 * time.Hour, Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	const n = 100_000
	step := 24 * time.Hour / n
	batch := make([]metrics.Record, 0, 1000)
	for i := range n {
		batch = append(batch, metrics.Record{ReceivedAt: end.Add(-24*time.Hour + time.Duration(i)*step), Sample: metrics.Sample{NrQueued: uint64(i)}})
		if len(batch) == cap(batch) {
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var lat []time.Duration
	rows := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		since := end.Add(-time.Duration(1+i%23) * time.Hour)
		start := time.Now()
		recs, _, err := s.Range(ctx, metrics.Query{Since: since, Until: since.Add(time.Hour), Limit: 10000})
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		rows = len(recs)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkAppendParallel appends one sample per call from many
// goroutines, as concurrent POSTs do; group commit batches them.
func BenchmarkAppendParallel(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{MaxCount: 1 << 30, MaxAge: 1 << 62, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	var seq atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if err := s.Append(ctx, []metrics.Record{{ReceivedAt: time.Unix(0, n), Sample: metrics.Sample{NrQueued: uint64(n)}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
