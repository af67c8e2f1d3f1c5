//go:build linux

package procs

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/procfixture"
)

// BenchmarkScanFixture measures a full reconcile scan over synthetic /proc
// trees of growing size (5% of processes in pods, 25 pods per 1,000).
// Reported: µs per process.
func BenchmarkScanFixture(b *testing.B) {
	for _, n := range []int{100, 2000, 10000} {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			pods := max(n/40, 1)
			if _, err := procfixture.Write(dir, procfixture.Spec{Processes: n, Pods: pods, PodProcesses: n / 20, Threads: 2}); err != nil {
				b.Fatal(err)
			}
			benchScan(b, dir, n)
		})
	}
}

// BenchmarkScanHostProc measures a full scan of this machine's real /proc.
func BenchmarkScanHostProc(b *testing.B) {
	pids, err := listPIDs("/proc")
	if err != nil {
		b.Skip("no /proc")
	}
	benchScan(b, "/proc", len(pids))
}

func benchScan(b *testing.B, procRoot string, n int) {
	b.Helper()
	rd := newReader()
	hier := findHierarchies(b.TempDir())
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, _, _, err := scan(rd, procRoot, hier); err != nil {
			b.Fatal(err)
		}
	}
	per := time.Since(start) / time.Duration(b.N) / time.Duration(n)
	b.ReportMetric(float64(per.Nanoseconds())/1000, "µs/proc")
	b.ReportMetric(float64(n), "procs")
}

// BenchmarkPublish measures building a snapshot at 10,000 pod processes in
// 500 pods, the work done after every change.
func BenchmarkPublish(b *testing.B) {
	dir := b.TempDir()
	if _, err := procfixture.Write(dir, procfixture.Spec{Processes: 10000, Pods: 500, PodProcesses: 10000}); err != nil {
		b.Fatal(err)
	}
	pods, host, _, err := scan(newReader(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		newSnapshot(1, time.Now(), buildPods(pods), host, nil, ScanStats{})
	}
	_ = os.RemoveAll(dir)
}

// BenchmarkPodsEqual measures the check that decides whether a publish
// moves the version, at 10,000 pod processes in 500 pods, with nothing
// changed (the whole list is walked), against reflect.DeepEqual, which
// the check replaced.
func BenchmarkPodsEqual(b *testing.B) {
	dir := b.TempDir()
	if _, err := procfixture.Write(dir, procfixture.Spec{Processes: 10000, Pods: 500, PodProcesses: 10000, Threads: 2}); err != nil {
		b.Fatal(err)
	}
	tracked, _, _, err := scan(newReader(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	x, y := buildPods(tracked), buildPods(tracked)
	for _, bm := range []struct {
		name  string
		equal func(a, b []Pod) bool
	}{
		{"Equal", func(a, b []Pod) bool { return slices.EqualFunc(a, b, func(p, q Pod) bool { return p.Equal(&q) }) }},
		{"reflect.DeepEqual", func(a, b []Pod) bool { return reflect.DeepEqual(a, b) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !bm.equal(x, y) {
					b.Fatal("equal pods differ")
				}
			}
		})
	}
}

// BenchmarkScanRealProcesses starts real sleeping processes and measures a
// full scan of the machine's /proc with them running.
func BenchmarkScanRealProcesses(b *testing.B) {
	for _, n := range []int{100, 2000, 10000} {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			cmds := make([]*exec.Cmd, 0, n)
			b.Cleanup(func() {
				for _, c := range cmds {
					_ = c.Process.Kill()
					_, _ = c.Process.Wait()
				}
			})
			for range n {
				c := exec.Command("sleep", "3600")
				if err := c.Start(); err != nil {
					b.Skipf("cannot start %d processes: %v", n, err)
				}
				cmds = append(cmds, c)
			}
			pids, err := listPIDs("/proc")
			if err != nil {
				b.Fatal(err)
			}
			benchScan(b, "/proc", len(pids))
		})
	}
}
