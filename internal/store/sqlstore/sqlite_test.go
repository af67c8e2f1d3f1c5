package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

// openSQLite opens a store on a new file and runs it until the test ends.
func openSQLite(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bss.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, s)
}

// v1Layout is the order in which schema versions 1 and 2 packed a sample
// (then the order of metrics.Fields); migration 3 wrote it down.
var v1Layout = []string{"usersched_pid", "usersched_last_run_at", "nr_queued", "nr_scheduled", "nr_running", "nr_online_cpus",
	"nr_user_dispatches", "nr_kernel_dispatches", "nr_cancel_dispatches", "nr_bounce_dispatches", "nr_failed_dispatches", "nr_sched_congested"}

// packNamed packs values in the order of names, as an older bss-api did.
func packNamed(names []string, values map[string]uint64) []byte {
	var b []byte
	for _, name := range names {
		b = binary.LittleEndian.AppendUint64(b, values[name])
	}
	return b
}

// distinct gives every field of v1Layout its own value, high bits too.
func distinct() map[string]uint64 {
	values := map[string]uint64{}
	for i, name := range v1Layout {
		values[name] = uint64(i+1)<<56 | uint64(i+1)
	}
	return values
}

// TestSQLiteMigrations writes rows as the previous schema did, migrates,
// and reads them back: a full row of the old layout, and a shorter row,
// as a row written before a counter was added would be.
func TestSQLiteMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bss.db")
	old, err := OpenSQLite(ctx, path, Options{targetVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	values := distinct()
	short := maps(values, v1Layout[:11]) // nr_sched_congested "added later"
	for at, blob := range map[int64][]byte{42: packNamed(v1Layout, values), 43: packNamed(v1Layout[:11], short)} {
		if _, err := old.write.ExecContext(ctx, `INSERT INTO metrics VALUES (?, 'n', ?)`, at, blob); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := OpenSQLite(ctx, path, Options{MaxCount: 10, MaxAge: 1 << 62, Now: func() time.Time { return time.Unix(0, 100) }})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	if ms, err := migrations(s.d); err != nil || s.SchemaVersion() != len(ms) {
		t.Errorf("schema version %d after migrating, want the latest (%d, %v)", s.SchemaVersion(), len(ms), err)
	}
	got, _, err := s.Range(ctx, metrics.Query{})
	if err != nil || len(got) != 2 {
		t.Fatalf("rows of the previous version after migrating: %+v, %v", got, err)
	}
	if want := sampleByName(t, values); got[0].Sample != want {
		t.Errorf("full row read back as %+v, want %+v", got[0].Sample, want)
	}
	if want := sampleByName(t, short); got[1].Sample != want || got[1].NrSchedCongested != 0 {
		t.Errorf("short row read back as %+v, want %+v (the missing counter 0)", got[1].Sample, want)
	}
	if list, _, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("strategies table after migrating: %v, %v", list, err)
	}
	if n := rowCount(t, s); n != 2 { // migration 6 counted them
		t.Errorf("%d rows after migrating, want 2", n)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}

	// A database from a newer bss-api is refused, untouched.
	newer := filepath.Join(t.TempDir(), "newer.db")
	n, err := OpenSQLite(ctx, newer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.write.ExecContext(ctx, `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := OpenSQLite(ctx, newer, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this bss-api") {
		t.Errorf("Open(newer) = %v, want a refusal", err)
	}
}

// maps returns the entries of m named in names.
func maps(m map[string]uint64, names []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, name := range names {
		out[name] = m[name]
	}
	return out
}

// goldenSample is the stored bytes of the sample distinct() describes:
// twelve little-endian uint64s, usersched_pid first.
const goldenSample = "0100000000000001" + "0200000000000002" + "0300000000000003" + "0400000000000004" +
	"0500000000000005" + "0600000000000006" + "0700000000000007" + "0800000000000008" +
	"0900000000000009" + "0a0000000000000a" + "0b0000000000000b" + "0c0000000000000c"

// TestSQLiteGoldenSample pins the bytes of a stored sample: a change to
// the field table must not change what is written.
func TestSQLiteGoldenSample(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, Options{MaxCount: 10, MaxAge: 1 << 62, Now: func() time.Time { return time.Unix(0, 100) }})
	if err := s.Append(ctx, []metrics.Record{{ReceivedAt: time.Unix(0, 7), Sample: sampleByName(t, distinct())}}); err != nil {
		t.Fatal(err)
	}
	var blob []byte
	if err := s.read.QueryRowContext(ctx, `SELECT sample FROM metrics`).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(blob); got != goldenSample {
		t.Errorf("stored sample\n%s\nwant\n%s", got, goldenSample)
	}
}

func TestLayoutStoresEveryField(t *testing.T) {
	checkLayoutStoresEveryField(t, openSQLite(t, Options{}))
}

func TestResolveLayout(t *testing.T) {
	all := layoutNames(metrics.Fields())
	if _, err := resolveLayout(all[:len(all)-1]); err == nil || !strings.Contains(err.Error(), all[len(all)-1]) || !strings.Contains(err.Error(), "migration") {
		t.Errorf("a layout without %s = %v, want an error naming it and asking for a migration", all[len(all)-1], err)
	}
	if _, err := resolveLayout(append(slices.Clone(all), "nr_gone")); err == nil || !strings.Contains(err.Error(), "nr_gone") {
		t.Errorf("a layout with an unknown field = %v", err)
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	layout, err := resolveLayout(reversed)
	if err != nil || layout[0].Name != reversed[0] {
		t.Errorf("a layout in another order than metrics.Fields = %v, %v; want it kept as stored", layoutNames(layout), err)
	}
}

func TestUnpack(t *testing.T) {
	layout, err := resolveLayout(v1Layout)
	if err != nil {
		t.Fatal(err)
	}
	values := distinct()
	var got metrics.Sample
	if err := unpack(layout, packNamed(v1Layout[:3], values), &got); err != nil || got != sampleByName(t, maps(values, v1Layout[:3])) {
		t.Errorf("a 3-counter blob = %+v, %v; want its 3 counters and the rest 0", got, err)
	}
	for _, n := range []int{7, 8 * 13} {
		if err := unpack(layout, make([]byte, n), &got); err == nil {
			t.Errorf("a %d-byte blob was accepted", n)
		}
	}
}

func TestSQLiteRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	s := openSQLite(t, Options{MaxCount: 3, MaxAge: 100 * time.Second, Now: func() time.Time { return now }})
	var recs []metrics.Record
	for i := range 10 {
		recs = append(recs, metrics.Record{ReceivedAt: time.Unix(850+int64(i)*20, 0), Sample: metrics.Sample{NrQueued: uint64(i)}})
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s); n != 3 {
		t.Errorf("%d rows after the append, want the newest 3", n)
	}
	if _, err := s.retain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s); n != 3 {
		t.Errorf("%d rows after retention, want the newest 3", n)
	}
}

// A bound lowered since the last run holds as soon as the store is open.
func TestSQLiteLoweredBound(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bss.db")
	now := time.Unix(1000, 0)
	opts := Options{MaxCount: 100, MaxAge: time.Hour, Now: func() time.Time { return now }}
	s, err := OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	var recs []metrics.Record
	for i := range 100 {
		recs = append(recs, metrics.Record{ReceivedAt: time.Unix(900, int64(i)), Sample: metrics.Sample{NrQueued: uint64(i)}})
	}
	err = s.Append(ctx, recs)
	cancel()
	if rerr := <-done; err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	if n := rowCount(t, s); n != 100 {
		t.Fatalf("%d rows, want 100", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts.MaxCount = 10
	s, err = OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := rowCount(t, s); n != 10 {
		t.Errorf("%d rows once open with a bound of 10", n)
	}
	if got, _, err := s.Range(ctx, metrics.Query{}); err != nil || len(got) != 10 || got[0].NrQueued != 90 {
		t.Errorf("Range = %d records from %v, %v; want the newest 10", len(got), got, err)
	}
}

// rowCount counts s's metric rows, failing t unless metric_counts agrees.
func rowCount(t testing.TB, s *Store) int {
	t.Helper()
	var n, counted int
	if err := s.read.QueryRowContext(context.Background(), `SELECT count(*) FROM metrics`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := s.read.QueryRowContext(context.Background(), `SELECT samples FROM metric_counts WHERE node = ''`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if n != counted {
		t.Errorf("%d metric rows, but metric_counts says %d", n, counted)
	}
	return n
}

// dayOfHistory opens a store holding 100,000 samples over the 24 h
// before end (one every 0.86 s), its cap.
func dayOfHistory(b *testing.B, end time.Time) *Store {
	ctx := context.Background()
	const n = 100_000
	s := openSQLite(b, Options{MaxCount: n, MaxAge: 48 * time.Hour, Now: func() time.Time { return end }})
	step := 24 * time.Hour / n
	batch := make([]metrics.Record, 0, 1000)
	for i := range n {
		batch = append(batch, metrics.Record{ReceivedAt: end.Add(-24*time.Hour + time.Duration(i)*step),
			Sample: metrics.Sample{UserschedPID: 7, NrQueued: uint64(i % 50), NrUserDispatches: uint64(i) * 10}})
		if len(batch) == cap(batch) {
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return s
}

// BenchmarkRangeHour queries one hour of a 100,000-sample history (24 h at
// one sample every 0.86 s): the p99 of the query latency is reported.
func BenchmarkRangeHour(b *testing.B) {
	ctx := context.Background()
	end := time.Unix(1_800_000_000, 0)
	s := dayOfHistory(b, end)
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

// BenchmarkSummaryDay summarises a full day of a full history: 100,000
// samples streamed through one Summarizer; B/op shows that no row is kept.
func BenchmarkSummaryDay(b *testing.B) {
	ctx := context.Background()
	end := time.Unix(1_800_000_000, 0)
	s := dayOfHistory(b, end)
	for b.Loop() {
		sum, err := s.Summary(ctx, end.Add(-24*time.Hour), end)
		if err != nil || sum.Samples != 100_000 {
			b.Fatalf("Summary = %d samples, %v", sum.Samples, err)
		}
	}
}

// BenchmarkAppendParallel appends one sample per call from many
// goroutines, as concurrent POSTs do; group commit batches them.
func BenchmarkAppendParallel(b *testing.B) {
	ctx := context.Background()
	s := openSQLite(b, Options{MaxCount: 1 << 30, MaxAge: 1 << 62, Now: time.Now})
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

// TestSQLiteShrinks: a file from before incremental auto-vacuum is
// converted once, keeping every row; and after retention deletes most of
// the rows, the file gives their space back.
func TestSQLiteShrinks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bss.db")
	now := time.Unix(1000, 0)
	opts := Options{MaxCount: 20_000, MaxAge: time.Hour, Now: func() time.Time { return now }, RetainEvery: time.Hour}

	// A database as an older bss-api left it: no auto-vacuum, 20,000 rows.
	s, err := OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA auto_vacuum = NONE`, `VACUUM`} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	appendRunning(t, s, 20_000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if mode := autoVacuumOf(t, path); mode != 0 {
		t.Fatalf("auto_vacuum %d, want the old database's 0", mode)
	}

	var logs strings.Builder
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err = OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s); n != 20_000 {
		t.Errorf("%d rows after the conversion, want 20000", n)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "converted the database to incremental auto-vacuum") {
		t.Errorf("no conversion logged:\n%s", logs.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if mode := autoVacuumOf(t, path); mode != autoVacuumIncremental {
		t.Errorf("auto_vacuum %d after the conversion, want %d", mode, autoVacuumIncremental)
	}
	full := fileSize(path)

	// The cap lowered to 100: Open deletes the rest, the first retention
	// run gives the space back.
	opts.MaxCount = 100
	s, err = OpenSQLite(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(path) > full/10 {
		if time.Now().After(deadline) {
			t.Fatalf("the file is %d bytes 10s after retention deleted 19,900 of 20,000 rows (%d bytes)", fileSize(path), full)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d bytes with 20,000 samples, %d with 100", full, fileSize(path))
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// appendRunning appends n samples to s, running it meanwhile.
func appendRunning(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for i := 0; i < n; i += 1000 {
		batch := make([]metrics.Record, 0, 1000)
		for j := i; j < min(i+1000, n); j++ {
			batch = append(batch, metrics.Record{ReceivedAt: time.Unix(900, int64(j)), Sample: metrics.Sample{NrQueued: uint64(j)}})
		}
		if err := s.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// autoVacuumOf reads the auto_vacuum mode of the closed database at path.
func autoVacuumOf(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode int
	if err := db.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}
