package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/store/sqlstore"
)

// TestCrashDuringRetention kills the server with SIGKILL while retention
// and incremental vacuum run all the time: a cap of 4000 samples, which
// 4 workers posting batches of 200 keep at (each commit deletes the
// oldest), and a retention job every 10 ms (deleting, then giving free
// pages back). Nothing acknowledged is lost that the cap did not drop:
// the stored samples are the newest, every worker's acknowledged samples
// from its oldest stored one on are all there, the acknowledged
// strategies are there, and the file is intact.
func TestCrashDuringRetention(t *testing.T) {
	// After a worker's last acknowledged batch at most three groups of
	// commits (of a batch per worker) can have been made, fewer than the
	// cap holds: every worker's last acknowledged batch must be stored.
	const capacity, batch = 4000, 200
	db := filepath.Join(t.TempDir(), "bss.db")
	args := []string{"--store=sqlite:" + db, "--history-max-samples=" + strconv.Itoa(capacity), "--retention-interval=10ms"}
	const rounds, workers = 8, 4
	acked := make([][][]uint64, rounds) // per round, per worker, in order
	var ackedStrategies []string
	midReclaim := 0
	for round := range rounds {
		s := runServer(t, append(args, "--log-level=debug")...)
		acked[round] = make([][]uint64, workers)
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := uint64(0); ; i += batch {
					select {
					case <-stop:
						return
					default:
					}
					vs := seq(uint64(round*100_000_000+w*10_000_000)+i, uint64(round*100_000_000+w*10_000_000)+i+batch-1)
					code, _ := s.postSamples(vs...)
					if code == 0 {
						return // no answer: the server is gone
					}
					if code == http.StatusOK {
						mu.Lock()
						acked[round][w] = append(acked[round][w], vs...)
						mu.Unlock()
					}
				}
			})
		}
		wg.Go(func() {
			for i := range 150 { // stay under --max-strategies across rounds
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("s-%d-%d", round, i)
				if code, _ := s.putStrategy(name); code == http.StatusCreated {
					mu.Lock()
					ackedStrategies = append(ackedStrategies, name)
					mu.Unlock()
				}
			}
		})
		// Kill as the job starts giving pages back for the k-th time: the
		// job runs every 10 ms, and every commit deletes too.
		k := 3 + rand.IntN(20)
		waitUntil(t, 30*time.Second, "the retention job to reclaim pages", func() bool {
			return s.count("reclaiming free pages") >= k
		})
		s.kill()
		close(stop)
		wg.Wait()
		if n := s.count("reclaiming free pages"); n > s.count("reclaimed free pages") {
			midReclaim++
		}
		t.Logf("round %d: killed after %d reclaims", round, s.count("reclaiming free pages"))
	}
	t.Logf("%d of %d kills came between \"reclaiming free pages\" and \"reclaimed\"", midReclaim, rounds)

	s := runServer(t, args...)
	stored := s.storedQueued()
	if len(stored) != capacity {
		t.Errorf("%d samples stored, want the cap, %d", len(stored), capacity)
	}
	in := map[uint64]bool{}
	for _, v := range stored {
		in[v] = true
	}
	// The newest samples survive: a round's samples are all newer than an
	// earlier round's, so once a sample of round r is stored, every
	// acknowledged sample of the rounds after it is too (a short last
	// round acknowledges fewer than the cap, so earlier ones stay); and of
	// each worker in the last round, all of them from the oldest stored on.
	last := acked[rounds-1]
	for r := range rounds - 1 {
		kept, found := uint64(0), false
		for w := range workers {
			if i := slices.IndexFunc(acked[r][w], func(v uint64) bool { return in[v] }); i >= 0 {
				kept, found = acked[r][w][i], true
				break
			}
		}
		if !found {
			continue
		}
		for later := r + 1; later < rounds; later++ {
			for w := range workers {
				for _, v := range acked[later][w] {
					if !in[v] {
						t.Errorf("acknowledged sample %d of round %d is missing, while sample %d of the older round %d is stored", v, later, kept, r)
					}
				}
			}
		}
	}
	n := 0
	for _, vs := range last {
		n += len(vs)
	}
	t.Logf("the last round acknowledged %d samples; %d stored in all", n, len(stored))
	for w, vs := range last {
		first := slices.IndexFunc(vs, func(v uint64) bool { return in[v] })
		if len(vs) > 0 && first < 0 {
			t.Errorf("worker %d: none of its %d acknowledged samples is stored", w, len(vs))
			continue
		}
		for _, v := range vs[max(first, 0):] {
			if !in[v] {
				t.Errorf("worker %d: acknowledged sample %d is missing, newer than its stored %d", w, v, vs[first])
			}
		}
	}
	code, body := s.do(http.MethodGet, "/api/v1/scheduling/strategies/definitions", "")
	if code != http.StatusOK {
		t.Fatalf("GET definitions = %d", code)
	}
	for _, name := range ackedStrategies {
		if !regexp.MustCompile(`"name":"` + name + `"`).MatchString(body) {
			t.Errorf("acknowledged strategy %s is missing", name)
		}
	}
	if status := s.stop(); status != 0 {
		t.Errorf("exit status %d", status)
	}
	integrity(t, db)
}

// oldDatabase makes, at path, a database as a bss-api before incremental
// auto-vacuum left it, holding n samples received a microsecond apart up
// to now.
func oldDatabase(t *testing.T, path string, n int) time.Time {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{MaxCount: n, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	newest := time.Now()
	for _, q := range []string{
		`PRAGMA journal_mode = WAL`,
		`PRAGMA auto_vacuum = NONE`,
		`VACUUM`,
		fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
			INSERT INTO metrics (received_at, node, sample) SELECT %d - i * 1000, 'n', zeroblob(96) FROM c`, n-1, newest.UnixNano()),
		fmt.Sprintf(`UPDATE metric_counts SET samples = %d`, n),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return newest
}

// TestCrashDuringVacuum kills the server with SIGKILL in the middle of
// the two vacuums a SQLite file gets: the one-time VACUUM that converts
// an older file to incremental auto-vacuum, and the incremental vacuum
// that gives back the pages of 299,990 samples a lowered cap deleted. The
// next start does the work again, and nothing is lost or damaged.
func TestCrashDuringVacuum(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bss.db")
	const n = 300_000
	newest := oldDatabase(t, db, n)
	full := []string{"--store=sqlite:" + db, "--history-max-samples=" + strconv.Itoa(n)}

	s := launch(t, full...)
	s.waitLog("converting the database to incremental auto-vacuum", 30*time.Second)
	s.kill()
	s = runServer(t, full...)
	if s.count("converting the database to incremental auto-vacuum") != 1 || s.count("converted the database") != 1 {
		t.Errorf("the restart did not convert the database again: the kill came after the VACUUM")
	}
	if h := s.health("/health"); h.Components["store"].Status != "ok" || !regexp.MustCompile(fmt.Sprintf(`\b%d samples`, n)).MatchString(h.Components["store"].Detail) {
		t.Errorf("after the killed conversion: store %s; want ok with %d samples", h.store(), n)
	}
	s.stop()
	integrity(t, db)
	before := fileSize(db)

	const kept = 10
	small := []string{"--store=sqlite:" + db, "--history-max-samples=" + strconv.Itoa(kept), "--log-level=debug"}
	s = launch(t, small...)
	s.waitLog("reclaiming free pages", 60*time.Second)
	s.kill()
	if s.count("reclaimed free pages") != 0 {
		t.Errorf("the kill came after the incremental vacuum")
	}
	s = runServer(t, small...)
	s.waitLog("reclaimed free pages", 60*time.Second)
	code, body := s.do(http.MethodGet, "/api/v1/metrics/history", "")
	want := fmt.Sprintf(`"count":%d`, kept)
	if code != http.StatusOK || !regexp.MustCompile(want).MatchString(body) ||
		!regexp.MustCompile(regexp.QuoteMeta(newest.UTC().Format(time.RFC3339Nano))).MatchString(body) {
		t.Errorf("history after the killed vacuum = %d, want the newest %d samples:\n%.400s", code, kept, body)
	}
	s.stop()
	integrity(t, db)
	if after := fileSize(db); after > before/20 {
		t.Errorf("the file is %d bytes after the vacuum, %d before: it did not shrink", after, before)
	}
	t.Logf("file: %d bytes with %d samples, %d with %d", before, n, fileSize(db), kept)
}

// fileSize is the size of the file at path, or -1.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}
