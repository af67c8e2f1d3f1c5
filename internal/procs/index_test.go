//go:build linux

package procs

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/testsupport/procfixture"
)

const (
	fixUID1 = "65979e01-4cb1-4d08-9dba-45530253ff00"
	fixUID2 = "0c7c7a5e-1d2f-4b3a-9e8d-7f6a5b4c3d2e"
	fixC1   = "5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67"
	fixC2   = "0e1f5c3d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	fixC3   = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// newTestScanner returns the scanner Index.Run would use over procRoot and
// cgroupRoot, before its first scan; the tests drive its scans and polls
// themselves instead of through Run's timers.
func newTestScanner(t *testing.T, procRoot, cgroupRoot string) *scanner {
	t.Helper()
	return newScanner(New(Options{ProcRoot: procRoot, CgroupRoot: cgroupRoot, ReconcileInterval: time.Hour, PollInterval: time.Hour}))
}

func reconcile(t *testing.T, sc *scanner) {
	t.Helper()
	if err := sc.reconcile(); err != nil {
		t.Fatal(err)
	}
}

// writeProc writes a minimal /proc/<pid> entry.
func writeProc(t testing.TB, root string, p procfixture.Process) {
	t.Helper()
	if err := procfixture.WriteProcess(root, p); err != nil {
		t.Fatal(err)
	}
}

// inPod is the cgroup path of container fixC3 of pod fixUID2.
const inPod = "/kubepods/pod" + fixUID2 + "/" + fixC3

func TestIndexFromFixture(t *testing.T) {
	sc := newTestScanner(t, "testdata/proc", t.TempDir())
	reconcile(t, sc)
	s := sc.ix.Snapshot()
	want := []Pod{
		{
			UID: fixUID2, QoS: Guaranteed,
			Containers: []Container{{ID: fixC3, PIDs: []int{800}}},
			Processes: []Process{
				{Proc: Proc{PID: 800, PPID: 1, Command: "my (weird) app", StartTime: 9100}, ContainerID: fixC3, Threads: []int{800}},
			},
		},
		{
			UID: fixUID1, QoS: Burstable,
			Containers: []Container{
				{ID: fixC2, Runtime: Containerd, Sandbox: true, PIDs: []int{717720}},
				{ID: fixC1, Runtime: Containerd, PIDs: []int{718001}},
			},
			Processes: []Process{
				{Proc: Proc{PID: 717720, PPID: 717576, Command: "pause", StartTime: 9001}, ContainerID: fixC2, Threads: []int{717720}},
				{Proc: Proc{PID: 718001, PPID: 717576, Command: "loki", StartTime: 9005}, ContainerID: fixC1, Threads: []int{718001, 718002, 718003}},
			},
		},
	}
	if !reflect.DeepEqual(s.Pods, want) {
		t.Errorf("pods =\n%+v\nwant\n%+v", s.Pods, want)
	}
	if s.Version != 1 {
		t.Errorf("Version = %d, want 1", s.Version)
	}
	// 1, 200, 717576, 717720, 718001, 800, 801, 901 read fine; 900 vanished.
	if st := s.Stats(); st.Processes != 8 || st.PodProcesses != 3 {
		t.Errorf("stats: %d processes, %d in pods; want 8, 3 in pods", st.Processes, st.PodProcesses)
	}
	if p, ok := s.PodOfPID(718001); !ok || p.UID != fixUID1 {
		t.Errorf("PodOfPID(718001) = %v, %v", p, ok)
	}
	if _, ok := s.PodOfPID(801); ok {
		t.Error("CRI-O conmon (801) is reported as a pod process")
	}
	for _, tt := range []struct {
		pid  int
		want Proc
	}{
		{801, Proc{PID: 801, PPID: 1, Command: "conmon", StartTime: 9099}}, // a host process, not its pod's
		{200, Proc{PID: 200, PPID: 1, Command: "sshd", StartTime: 500}},
	} {
		if got, ok := s.Process(tt.pid); !ok || got != tt.want {
			t.Errorf("Process(%d) = %+v, %v; want %+v", tt.pid, got, ok, tt.want)
		}
	}
	if _, ok := s.Process(900); ok {
		t.Error("a process that vanished mid-scan is reported")
	}
}

func TestIndexVersionMovesOnlyOnChange(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, procfixture.Process{PID: 10, Comm: "app", Cgroup: inPod})
	sc := newTestScanner(t, root, t.TempDir())
	reconcile(t, sc)
	notify, cancel := sc.ix.Subscribe()
	defer cancel()
	v1 := sc.ix.Snapshot().Version
	reconcile(t, sc)
	if v := sc.ix.Snapshot().Version; v != v1 {
		t.Errorf("version moved from %d to %d with nothing changed", v1, v)
	}
	select {
	case <-notify:
	default:
		t.Error("a full scan did not notify") // they always do: host processes may have changed
	}
	writeProc(t, root, procfixture.Process{PID: 11, Comm: "sidecar", Cgroup: inPod})
	reconcile(t, sc)
	if v := sc.ix.Snapshot().Version; v != v1+1 {
		t.Errorf("version = %d after a process joined, want %d", v, v1+1)
	}
	select {
	case <-notify:
	default:
		t.Error("no notification after a change")
	}
}

func TestIndexPermissionErrorsAreCounted(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, procfixture.Process{PID: 10, Comm: "app", Cgroup: inPod})
	writeProc(t, root, procfixture.Process{PID: 11, Comm: "secret", Cgroup: inPod})
	sc := newTestScanner(t, root, t.TempDir())
	// Root reads any file whatever its mode, so the denial is simulated
	// where the index opens files.
	denied := filepath.Join(root, "11", "cgroup")
	sc.rd.open = func(path string) (int, error) {
		if path == denied {
			return -1, unix.EACCES
		}
		return openRead(path)
	}
	if err := sc.reconcile(); err != nil {
		t.Fatalf("a permission error must not be fatal: %v", err)
	}
	if got := sc.ix.Snapshot().Stats().PermissionErrors; got != 1 {
		t.Errorf("PermissionErrors = %d, want 1", got)
	}
	if got := sc.ix.Snapshot().NumProcesses(); got != 1 {
		t.Errorf("%d pod processes, want the readable one", got)
	}
	if rep := sc.ix.Health(context.Background()); rep.State != health.Degraded || !strings.Contains(rep.Detail, "permission") {
		t.Errorf("health = %+v, want degraded naming permissions", rep)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in   string
		want procStat
		ok   bool
	}{
		{"42 (bash) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n", procStat{Comm: "bash", PPID: 1, StartTime: 12345}, true},
		{"7 (a) b) c) R 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 99 0", procStat{Comm: "a) b) c", PPID: 3, StartTime: 99}, true},
		{"7 (x y) S 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 98", procStat{Comm: "x y", PPID: 3, StartTime: 98}, true},
		{"7 (short) S 3 0 0", procStat{}, false},
		{"garbage", procStat{}, false},
		{"", procStat{}, false},
		{"7 (x) S notanumber 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 98", procStat{}, false},
	}
	for _, tt := range tests {
		got, ok := parseStat([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (bash) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, b []byte) { parseStat(b) })
}

// polledFixture is a v2 cgroup tree with one pod: pid 10 in container
// fixC3, and pid 12 in the pod's own cgroup, after the first full scan.
type polledFixture struct {
	sc           *scanner
	procRoot     string
	containerDir string
}

func newPolledFixture(t *testing.T) polledFixture {
	t.Helper()
	procRoot, cgRoot := t.TempDir(), t.TempDir()
	pod := filepath.Join(cgRoot, "kubepods", "pod"+fixUID2)
	containerDir := filepath.Join(pod, fixC3)
	for path, content := range map[string]string{
		filepath.Join(cgRoot, "cgroup.controllers"): "cpu pids\n",
		filepath.Join(pod, "cgroup.procs"):          "12\n",
		filepath.Join(containerDir, "cgroup.procs"): "10\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeProc(t, procRoot, procfixture.Process{PID: 10, Comm: "app", Cgroup: inPod})
	writeProc(t, procRoot, procfixture.Process{PID: 12, Comm: "pod-level", Cgroup: "/kubepods/pod" + fixUID2})
	sc := newTestScanner(t, procRoot, cgRoot)
	reconcile(t, sc)
	if got := sc.ix.Snapshot().NumProcesses(); got != 2 {
		t.Fatalf("%d pod processes, want 2", got)
	}
	return polledFixture{sc: sc, procRoot: procRoot, containerDir: containerDir}
}

// A poll with nothing changed reads only cgroup.procs files: processes in a
// pod's own cgroup (no container) are polled like container processes, not
// re-read from /proc at every poll.
func TestPollWithNothingChangedReadsNoProcess(t *testing.T) {
	f := newPolledFixture(t)
	version := f.sc.ix.Snapshot().Version
	var opened []string
	open := f.sc.rd.open
	f.sc.rd.open = func(path string) (int, error) {
		opened = append(opened, path)
		return open(path)
	}
	for range 3 {
		f.sc.poll()
	}
	for _, p := range opened {
		if strings.HasPrefix(p, f.procRoot) {
			t.Errorf("a poll with nothing changed read %s", p)
		}
	}
	if v := f.sc.ix.Snapshot().Version; v != version {
		t.Errorf("version moved from %d to %d", version, v)
	}
}

// A process that a poll found is read again at the next polls until the
// next full scan: a shell that execs the real program shows with the
// program's name within a poll, not a full scan later.
func TestPollSeesAYoungProcessExec(t *testing.T) {
	f := newPolledFixture(t)
	writeProc(t, f.procRoot, procfixture.Process{PID: 30, Comm: "sh", Cgroup: inPod})
	if err := os.WriteFile(filepath.Join(f.containerDir, "cgroup.procs"), []byte("10\n30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.sc.poll()
	if p, ok := f.sc.ix.Snapshot().Process(30); !ok || p.Command != "sh" {
		t.Fatalf("Process(30) = %+v, %v; want sh", p, ok)
	}
	writeProc(t, f.procRoot, procfixture.Process{PID: 30, Comm: "java", Cgroup: inPod}) // exec: same PID and start
	f.sc.poll()
	if p, _ := f.sc.ix.Snapshot().Process(30); p.Command != "java" {
		t.Errorf("after the exec, Process(30).Command = %q, want java", p.Command)
	}
}

// The index keeps the threads of watched PIDs outside pods current at each
// poll, and forgets them when the PID is no longer watched.
func TestPollKeepsWatchedHostThreads(t *testing.T) {
	f := newPolledFixture(t)
	writeProc(t, f.procRoot, procfixture.Process{PID: 50, Comm: "daemon", Cgroup: "/system.slice/daemon.service"})
	addTask := func(tid int) {
		if err := os.MkdirAll(filepath.Join(f.procRoot, "50", "task", strconv.Itoa(tid)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addTask(51)
	f.sc.ix.WatchPIDs([]int{50})
	f.sc.poll()
	if got := f.sc.ix.Snapshot().Threads(50); !slices.Equal(got, []int{50, 51}) {
		t.Fatalf("Threads(50) = %v, want [50 51]", got)
	}
	addTask(52)
	f.sc.poll()
	if got := f.sc.ix.Snapshot().Threads(50); !slices.Equal(got, []int{50, 51, 52}) {
		t.Errorf("after a new thread, Threads(50) = %v, want [50 51 52]", got)
	}
	f.sc.ix.WatchPIDs(nil)
	f.sc.poll()
	if got := f.sc.ix.Snapshot().Threads(50); got != nil {
		t.Errorf("unwatched, Threads(50) = %v, want nil", got)
	}
	if got := f.sc.ix.Snapshot().Threads(10); !slices.Equal(got, []int{10}) {
		t.Errorf("Threads of a pod process = %v, want [10]", got)
	}
}
