//go:build linux

package procs

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// eventPod is a kubelet-like pod cgroup with one container, in a private
// tree of a real hierarchy.
type eventPod struct {
	tree      *testenv.CgroupTree
	uid, cid  string
	container string // the container cgroup, below the tree's prefix
}

func newEventPod(t testing.TB, h testenv.Hierarchy) *eventPod {
	t.Helper()
	p := &eventPod{tree: testenv.NewCgroupTree(t, h), uid: testenv.RandomUID(), cid: testenv.RandomContainerID()}
	p.container = "kubepods/pod" + p.uid + "/" + p.cid
	p.tree.Mkdir(p.container)
	return p
}

// execer is a shell waiting in a pod's container cgroup to exec a program
// named name: moved there without exec, so no process event announces it.
type execer struct {
	PID   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startExecer starts a shell in pod that execs a sleep named name when
// told to.
func startExecer(t testing.TB, pod *eventPod, name string) *execer {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	if err := os.Symlink(sleep, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `read x; exec "$0" 3600`, link)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &execer{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin}
	t.Cleanup(e.kill)
	pod.tree.Move(e.PID, pod.container)
	return e
}

// exec makes the shell exec its program.
func (e *execer) exec(t testing.TB) {
	t.Helper()
	if _, err := e.stdin.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
}

func (e *execer) kill() {
	_ = e.cmd.Process.Kill()
	_, _ = e.cmd.Process.Wait()
}

// runIndex runs an index over the host's /proc and root, with events, and
// polls and full scans an hour apart unless opts say otherwise.
func runIndex(t testing.TB, root string, edit func(*Index)) *Index {
	t.Helper()
	ix := New(Options{ProcRoot: "/proc", CgroupRoot: root, ReconcileInterval: time.Hour, PollInterval: time.Hour, ProcessEvents: true})
	if edit != nil {
		edit(ix)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitIndex(t, ix, "the first scan", func(s *Snapshot) bool { return s != nil })
	return ix
}

// waitIndex waits up to 10 s for a snapshot that satisfies ok.
func waitIndex(t testing.TB, ix *Index, what string, ok func(*Snapshot) bool) *Snapshot {
	t.Helper()
	ch, stop := ix.Subscribe()
	defer stop()
	deadline := time.After(10 * time.Second)
	for {
		if s := ix.Snapshot(); ok(s) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// commandIn returns the command of pid if the snapshot has it in pod uid.
func commandIn(s *Snapshot, uid string, pid int) (string, bool) {
	if s == nil {
		return "", false
	}
	pod, ok := s.PodOfPID(pid)
	if !ok || pod.UID != uid {
		return "", false
	}
	pr, _ := pod.Process(pid)
	return pr.Command, true
}

func requireEvents(t testing.TB) {
	t.Helper()
	c, err := openProcConn()
	testenv.Require(t, err == nil, "no netlink process events (need root in the host's namespaces): "+errString(err))
	_ = c.close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// With polls an hour apart, only process events can show a process that
// execs in a pod cgroup, and its exit.
func TestEventsShowExecAndExit(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	requireEvents(t)
	for _, h := range hs {
		t.Run(h.Name, func(t *testing.T) {
			pod := newEventPod(t, h)
			ix := runIndex(t, h.CgroupRoot, nil)
			if got := ix.Source(); got != sourceEvents {
				t.Fatalf("Source() = %q, want %q", got, sourceEvents)
			}
			e := startExecer(t, pod, "event-app")
			e.exec(t)
			waitIndex(t, ix, "the exec'd command", func(s *Snapshot) bool {
				cmd, ok := commandIn(s, pod.uid, e.PID)
				return ok && cmd == "event-app"
			})
			e.kill()
			waitIndex(t, ix, "the exit", func(s *Snapshot) bool {
				_, ok := commandIn(s, pod.uid, e.PID)
				return !ok
			})
			if r := ix.Health(context.Background()); r.State != health.OK || !strings.Contains(r.Detail, "source: netlink process events") {
				t.Errorf("Health() = %+v, want ok naming netlink process events", r)
			}
		})
	}
}

// When the connector cannot be opened, the index polls, and says so.
func TestEventsFallBackToPolling(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	pod := newEventPod(t, hs[0])
	ix := runIndex(t, hs[0].CgroupRoot, func(ix *Index) {
		ix.opts.PollInterval = 20 * time.Millisecond
		ix.opts.EventPollInterval = time.Hour // must not be used
		ix.openEvents = func() (*procConn, error) { return nil, errors.New("injected failure") }
	})
	if got := ix.Source(); !strings.HasPrefix(got, "polling") || !strings.Contains(got, "injected failure") {
		t.Fatalf("Source() = %q, want polling with the reason", got)
	}
	if r := ix.Health(context.Background()); !strings.Contains(r.Detail, "source: polling") {
		t.Errorf("Health().Detail = %q, want it to name polling", r.Detail)
	}
	e := startExecer(t, pod, "polled-app")
	e.exec(t)
	waitIndex(t, ix, "the exec'd command by polling", func(s *Snapshot) bool {
		cmd, ok := commandIn(s, pod.uid, e.PID)
		return ok && cmd == "polled-app"
	})
}

// A socket buffer too small for a burst makes the kernel drop events; the
// index counts that and rescans, so it still matches a full scan.
func TestEventsOverflowRescans(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	requireEvents(t)
	pod := newEventPod(t, hs[0])
	ix := New(Options{ProcRoot: "/proc", CgroupRoot: hs[0].CgroupRoot, ReconcileInterval: time.Hour, PollInterval: time.Hour, ProcessEvents: true})
	sc := newScanner(ix)
	reconcile(t, sc)
	conn, err := openProcConn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.close()
	raw, err := conn.file.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1) })
	// A burst no one reads: far more events than the smallest buffer holds.
	for range 200 {
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
	}
	e := startExecer(t, pod, "after-burst")
	e.exec(t)
	// The exec must be visible to a full scan before the rescan runs.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readComm(e.PID), "after-burst") {
		if time.Now().After(deadline) {
			t.Fatal("the shell did not exec")
		}
		time.Sleep(time.Millisecond)
	}
	q := newEventQueue()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- readEvents(ctx, conn, q) }()
	defer func() {
		cancel()
		_ = conn.close()
		if err := <-done; err != nil {
			t.Errorf("readEvents: %v", err)
		}
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case <-q.ready:
		case <-timeout:
			t.Fatal("no overflow reported after a burst into a minimal buffer")
		}
		batch, _ := q.take()
		if batch.overflow {
			sc.applyEvents(batch)
			break
		}
	}
	if n := ix.EventOverflows(); n != 1 {
		t.Errorf("EventOverflows() = %d, want 1", n)
	}
	if cmd, ok := commandIn(ix.Snapshot(), pod.uid, e.PID); !ok || cmd != "after-burst" {
		t.Errorf("after the rescan the index shows %q, %v for the exec'd process, want after-burst", cmd, ok)
	}
}

func readComm(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return string(b)
}

// AdmitPIDs shows a process outside pods at once, which polls an hour
// apart and no events would show only at the next full scan.
func TestAdmitPIDs(t *testing.T) {
	ix := runIndex(t, t.TempDir(), func(ix *Index) { ix.opts.ProcessEvents = false })
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	if _, ok := ix.Snapshot().Process(pid); ok {
		t.Fatal("the index has the process before it was admitted")
	}
	seq, err := ix.AdmitPIDs(context.Background(), []int{pid, 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	s := ix.Snapshot()
	if s.Seq < seq {
		t.Fatalf("current snapshot Seq %d is before the admitted %d", s.Seq, seq)
	}
	if _, ok := s.Process(pid); !ok {
		t.Fatalf("snapshot %d lacks the admitted PID %d", s.Seq, pid)
	}
	// Admitting what the index has already publishes nothing new.
	again, err := ix.AdmitPIDs(context.Background(), []int{pid})
	if err != nil || again != seq {
		t.Errorf("admitting again = %d, %v; want %d, nil", again, err, seq)
	}
}
