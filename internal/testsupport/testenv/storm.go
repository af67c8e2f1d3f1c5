package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// stormSource forks RATE children a second for SECS seconds once a line
// arrives on stdin, then writes "done" and waits to be killed; a tenth of
// the children exec /bin/true, the rest exit at once. Children are reaped
// by the kernel (SIGCHLD ignored). Run as "hold N", it forks N children
// that wait to be killed instead, all at once.
const stormSource = `#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	long rate = atol(argv[1]), secs = atol(argv[2]);
	char c;
	signal(SIGCHLD, SIG_IGN);
	if (read(0, &c, 1) != 1) return 1;
	if (argv[1][0] == 'h') {
		for (long i = 0; i < atol(argv[2]); i++)
			if (fork() == 0) { signal(SIGTERM, SIG_DFL); for (;;) pause(); }
		if (write(1, "done\n", 5) != 5) return 1;
		for (;;) pause();
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < rate * secs; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9, at = (double)i / rate;
		if (at > el) { struct timespec d = {0, (long)((at - el) * 1e9)}; nanosleep(&d, 0); }
		if (fork() == 0) {
			if (i % 10 == 0) execl("/bin/true", "true", (char *)0);
			_exit(0);
		}
	}
	if (write(1, "done\n", 5) != 5) return 1;
	pause();
}
`

// ForkStorm builds the fork storm program with the C compiler and returns
// its path. Run it as `storm RATE SECS`; it starts at a line on stdin and
// writes "done" when it has forked them all. It skips (or in strict mode
// fails) t without a compiler.
func ForkStorm(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	Require(t, err == nil, "no C compiler (cc) to build the fork storm program")
	dir := t.TempDir()
	src := filepath.Join(dir, "storm.c")
	if err := os.WriteFile(src, []byte(stormSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "storm")
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build the fork storm program: %v\n%s", err, out)
	}
	return bin
}

// Hold starts, with the program ForkStorm built, n idle processes in the
// cgroup rel of tree (a holder and n-1 children), and waits until they all
// run. They are killed with the tree when the test ends.
func (c *CgroupTree) Hold(bin, rel string, n int) {
	c.t.Helper()
	cmd := exec.Command(bin, "hold", strconv.Itoa(n-1))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c.Move(cmd.Process.Pid, rel)
	if _, err := stdin.Write([]byte("\n")); err != nil {
		c.t.Fatal(err)
	}
	if _, err := stdout.Read(make([]byte, 5)); err != nil {
		c.t.Fatalf("holder in %s: %v", rel, err)
	}
}
