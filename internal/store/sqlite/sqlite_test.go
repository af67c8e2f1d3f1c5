package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/storetest"
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
	if _, err := old.write.ExecContext(ctx, `INSERT INTO metrics VALUES (42,'n',1,2,3,4,5,6,7,8,9,10,11,12)`); err != nil {
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
