//go:build linux

package procs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bss-api/bss-api/internal/testsupport/procfixture"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// The benchmarks below measure the process index on real processes in
// real cgroups (they need root), with process events and with polling
// alone at the default 500 ms, and print latencies, CPU and RSS:
//
//	go test -run '^$' -bench 'Events|ForkStorm|Idle' -benchtime 200x ./internal/procs
//
// They measure to the index's snapshot; the pod view and the resolver add
// their debounces on the way to GET strategies.

// BenchmarkEventsExecExit measures how long after a shell in a pod cgroup
// is told to exec a new program the index shows the new command, and how
// long after it is killed the index drops it.
func BenchmarkEventsExecExit(b *testing.B) {
	h := testenv.CgroupHierarchies(b)[0]
	for _, mode := range []struct {
		name   string
		events bool
	}{{"source=events", true}, {"source=polling", false}} {
		b.Run(mode.name, func(b *testing.B) {
			if mode.events {
				requireEvents(b)
			}
			pod := newEventPod(b, h)
			ix := runIndex(b, h.CgroupRoot, func(ix *Index) {
				ix.opts.ProcessEvents = mode.events
				ix.opts.PollInterval = 500 * time.Millisecond
				ix.opts.EventPollInterval = 5 * time.Second
			})
			var execs, exits []time.Duration
			i := 0
			for b.Loop() {
				i++
				name := "bench-" + strconv.Itoa(i)
				e := startExecer(b, pod, name)
				start := time.Now()
				e.exec(b)
				waitIndex(b, ix, "the exec", func(s *Snapshot) bool {
					cmd, ok := commandIn(s, pod.uid, e.PID)
					return ok && cmd == name
				})
				execs = append(execs, time.Since(start))
				start = time.Now()
				e.kill()
				waitIndex(b, ix, "the exit", func(s *Snapshot) bool {
					_, ok := commandIn(s, pod.uid, e.PID)
					return !ok
				})
				exits = append(exits, time.Since(start))
			}
			testenv.ReportPercentiles(b, "exec", execs)
			testenv.ReportPercentiles(b, "exit", exits)
		})
	}
}

// BenchmarkForkStorm runs a fork storm (5,000 short processes a second
// for 10 s) in a pod cgroup and reports the CPU the index used meanwhile
// (this process's, in cores), how often events were lost, and whether the
// index equals a full scan once the storm is over (equal=1): on a node
// with no other pod processes, and with 10,000 idle ones in 500 pods,
// where every snapshot costs more.
func BenchmarkForkStorm(b *testing.B) {
	h := testenv.CgroupHierarchies(b)[0]
	requireEvents(b)
	bin := testenv.ForkStorm(b)
	for _, idle := range []int{0, 10000} {
		b.Run(fmt.Sprintf("podprocs=%d", idle), func(b *testing.B) {
			for b.Loop() {
				pod := newEventPod(b, h)
				populate(b, pod.tree, bin, idle)
				ix := runIndex(b, h.CgroupRoot, func(ix *Index) { ix.opts.EventPollInterval = 5 * time.Second })
				cores, rate := runStorm(b, bin, pod)
				// Let the last events land, then compare with a full scan.
				time.Sleep(200 * time.Millisecond)
				got := podProcesses(ix.Snapshot(), pod.uid)
				pods, _, _, err := scan(newReader(), "/proc", findHierarchies(h.CgroupRoot))
				if err != nil {
					b.Fatal(err)
				}
				var want []int
				for pid, t := range pods {
					if t.ref.PodUID == pod.uid {
						want = append(want, pid)
					}
				}
				slices.Sort(want)
				equal := 0.0
				if slices.Equal(got, want) {
					equal = 1
				} else {
					b.Logf("after the storm the index has %v, a full scan %v", got, want)
				}
				b.ReportMetric(cores, "cpu-cores")
				b.ReportMetric(rate, "forks/s")
				b.ReportMetric(float64(ix.EventOverflows()), "overflows")
				b.ReportMetric(equal, "equal")
				b.ReportMetric(float64(ix.Snapshot().NumProcesses()), "pod-procs")
			}
		})
	}
}

// populate puts n idle processes in n/20 pods of tree.
func populate(b *testing.B, tree *testenv.CgroupTree, bin string, n int) {
	b.Helper()
	for range n / 20 {
		rel := fmt.Sprintf("kubepods/besteffort/pod%s/%s", testenv.RandomUID(), testenv.RandomContainerID())
		tree.Mkdir(rel)
		tree.Hold(bin, rel, 20)
	}
}

// runStorm runs the storm program in pod's container until it is done,
// and returns the CPU this process used meanwhile, in cores, and the rate
// the storm reached. The storm's leader stays, idle, until the end.
func runStorm(b *testing.B, bin string, pod *eventPod) (cores, rate float64) {
	b.Helper()
	const forks, secs = 5000, 10
	storm := exec.Command(bin, strconv.Itoa(forks), strconv.Itoa(secs))
	stdin, err := storm.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := storm.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := storm.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = storm.Process.Kill(); _ = storm.Wait() })
	pod.tree.Move(storm.Process.Pid, pod.container)
	cpu0, wall0 := cpuTime(), time.Now()
	_, _ = stdin.Write([]byte("\n"))
	if _, err := stdout.Read(make([]byte, 5)); err != nil {
		b.Fatalf("the storm did not finish: %v", err)
	}
	took := time.Since(wall0)
	return (cpuTime() - cpu0).Seconds() / took.Seconds(), forks * secs / took.Seconds()
}

func podProcesses(s *Snapshot, uid string) []int {
	p, ok := s.Pod(uid)
	if !ok {
		return nil
	}
	var pids []int
	for _, pr := range p.Processes {
		pids = append(pids, pr.PID)
	}
	return pids
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdle runs the index over a synthetic node of 10,000 processes
// in 500 pods (a /proc fixture and a cgroup tree of plain files to poll)
// for 30 s with nothing changing, and reports the CPU it used (ms per s)
// and the process's RSS: polling alone at the default 500 ms against
// process events with the cgroup poll at 5 s. Full scans stay at 10 s.
// The fixture's processes are not real, so the real connector's events
// (for this machine's processes, whose PIDs the fixture reuses) would
// only disturb it: with events the index reads a subscribed but silent
// connection, which is what an idle node sends.
func BenchmarkIdle(b *testing.B) {
	for _, mode := range []struct {
		name   string
		events bool
	}{{"source=polling", false}, {"source=events", true}} {
		b.Run(mode.name, func(b *testing.B) {
			procRoot, cgRoot := idleFixture(b)
			for b.Loop() {
				ix := New(Options{ProcRoot: procRoot, CgroupRoot: cgRoot, ReconcileInterval: 10 * time.Second,
					PollInterval: 500 * time.Millisecond, EventPollInterval: 5 * time.Second, ProcessEvents: mode.events})
				ix.openEvents = func() (*procConn, error) { return silentConn(b), nil }
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- ix.Run(ctx) }()
				waitIndex(b, ix, "the first scan", func(s *Snapshot) bool { return s != nil })
				if mode.events && ix.Source() != sourceEvents {
					b.Fatalf("source %q", ix.Source())
				}
				runtime.GC()
				const window = 30 * time.Second
				cpu0 := cpuTime()
				time.Sleep(window)
				used := cpuTime() - cpu0
				rss := rssBytes()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(used.Microseconds())/1000/window.Seconds(), "cpu-ms/s")
				b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
				b.ReportMetric(float64(ix.Snapshot().NumProcesses()), "pod-procs")
			}
		})
	}
}

// silentConn is a process event connection on which nothing arrives.
func silentConn(b *testing.B) *procConn {
	b.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	b.Cleanup(func() { _ = peer.Close() })
	return &procConn{file: os.NewFile(uintptr(fds[0]), "silent"), buf: make([]byte, 64<<10)}
}

// idleFixture writes a synthetic /proc of 10,000 processes in 500 pods and
// a cgroup v2 tree of plain directories whose cgroup.procs files list them.
func idleFixture(b *testing.B) (procRoot, cgRoot string) {
	b.Helper()
	procRoot, cgRoot = b.TempDir(), b.TempDir()
	if _, err := procfixture.Write(procRoot, procfixture.Spec{Processes: 12000, Pods: 500, PodProcesses: 10000}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cgRoot, "cgroup.controllers"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	pods, _, _, err := scan(newReader(), procRoot, findHierarchies(cgRoot))
	if err != nil {
		b.Fatal(err)
	}
	members := map[string][]byte{}
	for pid, t := range pods {
		members[t.dir] = fmt.Appendf(members[t.dir], "%d\n", pid)
	}
	for dir, list := range members {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), list, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return procRoot, cgRoot
}

// rssBytes is this process's resident set (VmRSS).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}
