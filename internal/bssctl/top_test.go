package bssctl_test

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

func postQueued(t *testing.T, srv *server, queued, dispatches uint64) {
	t.Helper()
	_, err := srv.api.PostMetrics(context.Background(), client.Metrics{UserschedPID: 4242, NrQueued: queued,
		NrScheduled: 2, NrRunning: 1, NrOnlineCPUs: 4, NrUserDispatches: dispatches, NrKernelDispatches: dispatches / 2,
		NrSchedCongested: dispatches / 100})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTopPlain: without a terminal, top prints each refresh below the last,
// without control codes, and stops after --iterations.
func TestTopPlain(t *testing.T) {
	srv := startServer(t, serverOpts{})
	r := srv.run(t, nil, "top", "--iterations", "1").ok(t, "top before any sample")
	if !strings.Contains(r.out, "No metrics yet") {
		t.Errorf("top before any sample:\n%s", r.out)
	}
	seedStrategies(t, srv)
	postQueued(t, srv, 17, 1000)
	r = srv.run(t, nil, "top", "--iterations", "2", "--interval", "100ms").ok(t, "top --iterations 2")
	if n := strings.Count(r.out, "bssctl top - "+srv.url+" (node test-node)"); n != 2 {
		t.Errorf("top --iterations 2 printed %d frames, want 2:\n%s", n, r.out)
	}
	for _, want := range []string{"QUEUE        queued 17 ", "SAMPLES      1 in the last 1m0s",
		"STRATEGIES   2 PIDs given a strategy", "QUEUE DEPTH  min 17, avg 17.0, max 17"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("top output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "\x1b") {
		t.Errorf("top without a terminal wrote control codes: %q", r.out)
	}
}

// buildBssctl builds bss-api and bssctl with hack/build.sh, the build the
// image ships, and returns bssctl's path after checking that it is static
// and carries the version.
func buildBssctl(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(t), "hack", "build.sh"), filepath.Join(dir, "bss-api"))
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-bssctl-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/build.sh: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "bssctl")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("hack/build.sh made no bssctl: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bssctl has an ELF interpreter; it must be static for the distroless image")
		}
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || string(out) != "bssctl v0.0.0-bssctl-test\n" {
		t.Errorf("bssctl --version = %q, %v; want the stamped version", out, err)
	}
	return bin
}

// tmux is a private tmux server (its own socket) for one test.
type tmux struct {
	t      *testing.T
	bin    string
	socket string
}

func (x *tmux) cmd(args ...string) (string, error) {
	out, err := exec.Command(x.bin, append([]string{"-S", x.socket, "-f", os.DevNull}, args...)...).CombinedOutput()
	return string(out), err
}

func (x *tmux) screen() string {
	x.t.Helper()
	out, err := x.cmd("capture-pane", "-p", "-t", "top")
	if err != nil {
		x.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

func (x *tmux) waitScreen(what string, cond func(string) bool) string {
	x.t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = x.screen()
		if cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%s: not on the screen within 20s; it shows:\n%s", what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var dispatchRate = regexp.MustCompile(`DISPATCH/S   user \d+\.\d\d`)

// TestTopInTmux drives the live view in a real terminal: it renders, redraws
// in place as new metrics arrive, shows rates once samples span a second,
// and q quits with status 0, giving the screen back.
func TestTopInTmux(t *testing.T) {
	tmuxBin := testenv.Binary(t, "BSS_TMUX_BIN", "tmux")
	bssctlBin := buildBssctl(t)
	srv := startServer(t, serverOpts{})
	seedStrategies(t, srv)
	postQueued(t, srv, 7, 100)

	x := &tmux{t: t, bin: tmuxBin, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	shell := fmt.Sprintf("echo before top; BSS_SERVER=%s %s top --interval 200ms; echo bssctl exited $?; sleep 600", srv.url, bssctlBin)
	if out, err := x.cmd("new-session", "-d", "-s", "top", "-x", "120", "-y", "40", shell); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = x.cmd("kill-server") })

	first := x.waitScreen("the first frame", func(s string) bool { return strings.Contains(s, "queued 7 ") })
	for _, want := range []string{"bssctl top - " + srv.url + " (node test-node)", "STRATEGIES   2 PIDs given a strategy", "q quits"} {
		if !strings.Contains(first, want) {
			t.Errorf("first frame lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "before top") {
		t.Errorf("top does not use the alternate screen: the shell's output shows under it:\n%s", first)
	}

	// New metrics: the frame changes in place (one header, never a second).
	start := time.Now()
	postQueued(t, srv, 42, 200)
	s := x.waitScreen("the new queue depth", func(s string) bool { return strings.Contains(s, "queued 42 ") })
	if n := strings.Count(s, "bssctl top - "); n != 1 {
		t.Errorf("the screen shows %d frames, want one redrawn in place:\n%s", n, s)
	}
	t.Logf("a new sample showed on the screen %s after it was posted (interval 200ms)", time.Since(start).Round(time.Millisecond))

	// Rates need samples a second apart: keep posting until they show.
	d := uint64(200)
	deadline := time.Now().Add(15 * time.Second)
	for s = x.screen(); !dispatchRate.MatchString(s); s = x.screen() {
		if time.Now().After(deadline) {
			t.Fatalf("no dispatch rate on the screen within 15s:\n%s", s)
		}
		d += 100
		postQueued(t, srv, 42, d)
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s, "CONGESTION   ") || !strings.Contains(s, "▁") && !strings.Contains(s, "█") {
		t.Errorf("the frame lacks congestion or the queue sparkline:\n%s", s)
	}

	if out, err := x.cmd("send-keys", "-t", "top", "q"); err != nil {
		t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
	end := x.waitScreen("top quitting on q", func(s string) bool { return strings.Contains(s, "bssctl exited") })
	if !strings.Contains(end, "bssctl exited 0") {
		t.Errorf("top ended on q with another status:\n%s", end)
	}
	if !strings.Contains(end, "before top") || strings.Contains(end, "QUEUE ") {
		t.Errorf("after q the terminal does not show the shell's screen again:\n%s", end)
	}
}
