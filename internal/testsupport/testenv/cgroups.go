package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hierarchy is a writable cgroup hierarchy mounted on this machine.
type Hierarchy struct {
	Name string // "v2", "v1-systemd" or "v1-pids"
	Root string // its mount point
	V2   bool
	// CgroupRoot is what bss-api's --cgroup-root must be for it to find
	// this hierarchy: the mount point itself for a pure v2 host, else the
	// directory holding the per-hierarchy mounts (/sys/fs/cgroup).
	CgroupRoot string
}

// CgroupHierarchies finds the writable cgroup hierarchies that a kubelet
// could use — v2, and v1's name=systemd and pids — from /proc/self/mountinfo.
// It skips (or in strict mode fails) t unless running as root with at
// least one of them.
func CgroupHierarchies(t testing.TB) []Hierarchy {
	t.Helper()
	Require(t, os.Geteuid() == 0, "real cgroup tests need root to create cgroups and move processes")
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hs []Hierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts … - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || pf[3] != "/" {
			continue
		}
		mount, fstype, opts := pf[4], qf[0], strings.Split(qf[2], ",")
		var h Hierarchy
		switch {
		case fstype == "cgroup2":
			h = Hierarchy{Name: "v2", Root: mount, V2: true, CgroupRoot: mount}
			if filepath.Base(mount) == "unified" {
				h.CgroupRoot = filepath.Dir(mount)
			}
		case fstype == "cgroup" && slices.Contains(opts, "name=systemd") && filepath.Base(mount) == "systemd":
			h = Hierarchy{Name: "v1-systemd", Root: mount, CgroupRoot: filepath.Dir(mount)}
		case fstype == "cgroup" && slices.Contains(opts, "pids") && filepath.Base(mount) == "pids":
			h = Hierarchy{Name: "v1-pids", Root: mount, CgroupRoot: filepath.Dir(mount)}
		default:
			continue
		}
		if writable(h.Root) {
			hs = append(hs, h)
		}
	}
	Require(t, len(hs) > 0, "no writable cgroup hierarchy is mounted")
	return hs
}

func writable(root string) bool {
	dir := filepath.Join(root, "bss-probe-"+randomHex(4))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false
	}
	return os.Remove(dir) == nil
}

// CgroupTree is a private subtree of a hierarchy in which a test builds
// kubelet-like cgroups. Everything in it is removed when the test ends:
// processes still inside are killed and reaped, and directories are removed
// deepest first.
type CgroupTree struct {
	t      testing.TB
	H      Hierarchy
	Prefix string // directory below the hierarchy root, e.g. "bss-test-1a2b3c4d"
}

// NewCgroupTree makes an empty subtree in h.
func NewCgroupTree(t testing.TB, h Hierarchy) *CgroupTree {
	t.Helper()
	c := &CgroupTree{t: t, H: h, Prefix: "bss-test-" + randomHex(4)}
	if err := os.Mkdir(c.Path(""), 0o755); err != nil {
		t.Fatalf("create test cgroup: %v", err)
	}
	t.Cleanup(c.removeAll)
	return c
}

// Path returns the directory of rel (a slash path below the prefix).
func (c *CgroupTree) Path(rel string) string {
	return filepath.Join(c.H.Root, c.Prefix, rel)
}

// Mkdir creates rel and its parents.
func (c *CgroupTree) Mkdir(rel string) string {
	c.t.Helper()
	p := c.Path(rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		c.t.Fatalf("mkdir %s: %v", p, err)
	}
	return p
}

// Rmdir removes the empty cgroup rel.
func (c *CgroupTree) Rmdir(rel string) {
	c.t.Helper()
	if err := os.Remove(c.Path(rel)); err != nil {
		c.t.Fatalf("rmdir %s: %v", c.Path(rel), err)
	}
}

// Move puts pid into the cgroup rel.
func (c *CgroupTree) Move(pid int, rel string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.Path(rel), "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		c.t.Fatalf("move %d to %s: %v", pid, rel, err)
	}
}

func (c *CgroupTree) removeAll() {
	var dirs []string
	_ = filepath.WalkDir(c.Path(""), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs) // deepest first
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					// Move it out so the directory can go even before it is reaped.
					_ = os.WriteFile(filepath.Join(c.H.Root, "cgroup.procs"), []byte(f), 0o644)
				}
			}
		}
		for i := 0; i < 50; i++ {
			if err := os.Remove(d); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond) // a killed process takes a moment to leave
		}
	}
}

// Process is a real process started for a test.
type Process struct {
	PID int
	cmd *exec.Cmd
}

// Kill kills the process and reaps it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
}

// Programs starts idle processes with chosen command names and thread
// counts, from a tiny C program built once per test.
type Programs struct {
	t   testing.TB
	dir string
	bin string
}

// NewPrograms builds the idle program with the C compiler. It skips (or in
// strict mode fails) t without one.
func NewPrograms(t testing.TB) *Programs {
	t.Helper()
	cc, err := exec.LookPath("cc")
	Require(t, err == nil, "no C compiler (cc) to build the idle test program")
	dir := t.TempDir()
	src := filepath.Join(dir, "idle.c")
	const prog = `#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static void *idle(void *arg) { for (;;) pause(); return arg; }
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 0;
	for (int i = 0; i < n; i++) { pthread_t t; pthread_create(&t, 0, idle, 0); }
	for (;;) pause();
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "idle")
	if out, err := exec.Command(cc, "-O2", "-pthread", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build idle program: %v\n%s", err, out)
	}
	return &Programs{t: t, dir: dir, bin: bin}
}

// Start runs an idle process whose command name (comm) is name, with
// threads extra threads, and kills it when the test ends. It waits until
// every thread exists.
func (p *Programs) Start(name string, threads int) *Process {
	p.t.Helper()
	link := filepath.Join(p.dir, "bin-"+randomHex(4), name)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		p.t.Fatal(err)
	}
	// The kernel takes comm from the name the program is executed by.
	if err := os.Symlink(p.bin, link); err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(link, strconv.Itoa(threads))
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", name, err)
	}
	proc := &Process{PID: cmd.Process.Pid, cmd: cmd}
	p.t.Cleanup(proc.Kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", proc.PID))
		if len(tasks) == threads+1 {
			return proc
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s has %d threads after 10s, want %d", name, len(tasks), threads+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomUID returns a random pod UID in canonical dashed form.
func RandomUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// RandomContainerID returns a random 64-hex container ID.
func RandomContainerID() string { return randomHex(32) }
