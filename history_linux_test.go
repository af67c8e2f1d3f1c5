package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodBody is a batch of 1000 samples padded to about 1 MiB with an
// unknown field, as the flood sent them.
func floodBody() []byte {
	var b bytes.Buffer
	pad := strings.Repeat("x", 800)
	b.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"usersched_pid":7,"nr_queued":%d,"nr_scheduled":3,"nr_running":2,"nr_online_cpus":8,"nr_user_dispatches":%d,"nr_kernel_dispatches":%d,"pad":%q}`,
			i%50, i*10, i*3, pad)
	}
	b.WriteString("]")
	return b.Bytes()
}

// flood posts body from clients until stop is closed and returns the
// samples acknowledged.
func flood(s *binServer, body []byte, clients int, stop <-chan struct{}) *atomic.Int64 {
	var acked atomic.Int64
	client := &http.Client{Timeout: time.Minute}
	for range clients {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(s.url+"/api/v1/metrics", "application/json", bytes.NewReader(body))
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Add(1000)
				}
			}
		}()
	}
	return &acked
}

// rowCounter counts the metric rows of the database at path, from
// another connection than the server's.
func rowCounter(t testing.TB, path string) func() int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM metrics`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestHistoryCapUnderFlood: the sample cap holds at every moment, not
// once a retention run comes: 4 clients post 1 MiB batches for 3 s into a
// cap of 5000, and the rows, counted all along, are never more.
func TestHistoryCapUnderFlood(t *testing.T) {
	const capacity = 5000
	db := filepath.Join(t.TempDir(), "bss.db")
	s := runServer(t, "--store=sqlite:"+db, "--history-max-samples="+strconv.Itoa(capacity))
	rows := rowCounter(t, db)
	stop := make(chan struct{})
	acked := flood(s, floodBody(), 4, stop)
	most := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		most = max(most, rows())
	}
	close(stop)
	most = max(most, rows())
	if most > capacity || acked.Load() <= capacity {
		t.Errorf("%d samples acknowledged, at most %d stored at once; want more than %d acknowledged and at most %d stored",
			acked.Load(), most, capacity, capacity)
	}
	t.Logf("%d samples acknowledged in 3 s; at most %d stored (cap %d)", acked.Load(), most, capacity)
}

// BenchmarkHistoryUnderFlood measures the flood and summary on
// the built server: 4 clients post 1 MiB batches for 20 s into the default
// cap of 100,000 (acknowledged, most stored, file size), then a 24 h
// summary of the full history, alone (time, growth of the peak RSS) and
// 16 at once (wall time, peak RSS). Run it alone:
//
//	go test -run '^$' -bench HistoryUnderFlood -benchtime 1x .
func BenchmarkHistoryUnderFlood(b *testing.B) {
	db := filepath.Join(b.TempDir(), "bss.db")
	s := runServer(b, "--store=sqlite:"+db)
	rows := rowCounter(b, db)
	for b.Loop() {
		stop := make(chan struct{})
		acked := flood(s, floodBody(), 4, stop)
		most := 0
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			most = max(most, rows())
		}
		close(stop)
		b.ReportMetric(float64(acked.Load()), "acked")
		b.ReportMetric(float64(max(most, rows())), "max-stored")
		b.ReportMetric(float64(fileSize(db))/(1<<20), "db-MiB")

		summary := func() time.Duration {
			start := time.Now()
			if code, body := s.do(http.MethodGet, "/api/v1/metrics/summary?window=24h", ""); code != http.StatusOK {
				b.Fatalf("summary = %d %s", code, body)
			}
			return time.Since(start)
		}
		time.Sleep(time.Second) // the flood's last requests settle
		resetPeak(b, s)
		base := peakRSS(b, s)
		var took time.Duration
		for range 5 {
			took += summary()
		}
		b.ReportMetric(float64(took.Milliseconds())/5, "summary-ms")
		b.ReportMetric(float64(peakRSS(b, s)-base)/(1<<20), "summary-peak-growth-MiB")
		resetPeak(b, s)
		var wg sync.WaitGroup
		start := time.Now()
		for range 16 {
			wg.Go(func() { summary() })
		}
		wg.Wait()
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "16-summaries-ms")
		b.ReportMetric(float64(peakRSS(b, s))/(1<<20), "16-summaries-peak-RSS-MiB")
	}
}

// resetPeak resets the server's peak RSS (VmHWM) to its RSS.
func resetPeak(t testing.TB, s *binServer) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
}

// peakRSS is the server's peak RSS (VmHWM), in bytes.
func peakRSS(t testing.TB, s *binServer) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
