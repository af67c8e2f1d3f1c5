package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is bss-api running as a child process.
type server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan error // receives Wait's result
}

// moduleRoot is the directory of the go.mod that `go env GOMOD` names.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the bss-api module: run from its directory")
	}
	return filepath.Dir(mod), nil
}

// startServer builds bss-api (unless o.serverBin names one), starts it on
// a free loopback port and waits until GET strategies answers 200.
func startServer(ctx context.Context, o options) (*server, error) {
	dir, err := os.MkdirTemp("", "bss-watch-")
	if err != nil {
		return nil, err
	}
	bin := o.serverBin
	if bin == "" {
		root, err := moduleRoot(ctx)
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(dir, "bss-api")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build bss-api: %w\n%s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	args := append([]string{"--listen=" + addr, "--store=memory", "--kube-mode=off", "--log-level=warn",
		"--data-dir=" + dir, "--max-connections-per-client=" + strconv.Itoa(o.waiters+64),
		"--write-rate=1000", "--write-burst=1000"}, o.serverArgs...)
	logFile, err := os.Create(filepath.Join(dir, "bss-api.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start bss-api: %w", err)
	}
	s := &server{addr: addr, dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() {
		s.done <- cmd.Wait()
		_ = logFile.Close()
	}()
	if err := s.waitResolved(ctx); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logFile.Name())
	}
	return s, nil
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// waitResolved polls GET strategies until it answers 200.
func (s *server) waitResolved(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return fmt.Errorf("bss-api exited: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url("/api/v1/scheduling/strategies"), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("bss-api did not resolve strategies within 30s")
}

// stop ends the server with SIGTERM (SIGKILL after 10 s), removes its
// directory, and returns how it exited.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		err = fmt.Errorf("bss-api did not stop within 10s of SIGTERM (killed): %w", <-s.done)
	}
	_ = os.RemoveAll(s.dir)
	return err
}

// rss is the server's resident set size in bytes (VmRSS).
func (s *server) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

func numCPU() int { return runtime.NumCPU() }
