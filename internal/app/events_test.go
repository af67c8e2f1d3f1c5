package app

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestProcessEventsExecAndExit puts a shell in a real pod cgroup, then has
// it exec a program whose name a command_regex strategy matches. Polls and
// full scans are an hour apart, so only the kernel's process events can
// make GET strategies list it, and drop it when it exits; /health names
// the source.
func TestProcessEventsExecAndExit(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	h := hs[0]
	tree := testenv.NewCgroupTree(t, h)
	uid, cid := testenv.RandomUID(), testenv.RandomContainerID()
	container := "kubepods/pod" + uid + "/" + cid
	tree.Mkdir(container)

	srv := startServer(t, nil, "--cgroup-root="+h.CgroupRoot, "--reconcile-interval=1h", "--poll-interval=1h", "--event-poll-interval=1h")
	res := srv.API.Get(t, "/health")
	if !strings.Contains(string(res.Body), "source: netlink process events") {
		testenv.Require(t, false, "no netlink process events here (need root in the host's namespaces): "+string(res.Body))
	}
	postStrategies(t, srv, `{"strategies":[{"name":"evapp","priority":true,"execution_time":5000000,"command_regex":"^evapp$"}]}`)

	link := filepath.Join(t.TempDir(), "evapp")
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
	kill := func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }
	t.Cleanup(kill)
	pid := cmd.Process.Pid
	tree.Move(pid, container) // no event: the index does not know it yet
	if pidsInStrategies(t, srv)[pid] {
		t.Fatal("the shell is listed before it execs the matching program")
	}
	if _, err := io.WriteString(stdin, "\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "GET strategies to list the exec'd process", func() bool { return pidsInStrategies(t, srv)[pid] })
	kill()
	waitFor(t, 10*time.Second, "GET strategies to drop the exited process", func() bool { return !pidsInStrategies(t, srv)[pid] })
}
