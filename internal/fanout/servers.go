package fanout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one bss-api child process.
type server struct {
	node string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan error // receives Wait's result
}

// BuildServer builds bss-api from the module at root into dir and returns
// the binary's path.
func BuildServer(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "bss-api")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bss-api: %w\n%s", err, out)
	}
	return bin, nil
}

// freePort returns the first loopback address from *port up that can be
// listened on, and moves *port past it. The ports start below Linux's
// ephemeral range, so the servers' own outgoing connections cannot take
// one between this check and the server's listen.
func freePort(port *int) (string, error) {
	for ; *port < 32768; *port++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
		if err == nil {
			addr := ln.Addr().String()
			_ = ln.Close()
			*port++
			return addr, nil
		}
	}
	return "", errors.New("no free loopback port below 32768")
}

// startServer starts bss-api for node on a free loopback port, reading
// strategies from the custom resources through kubeconfig. It does not
// wait for the server to be ready.
func startServer(bin, dir, node, kubeconfig string, port *int) (*server, error) {
	addr, err := freePort(port)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, node)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(data, "bss-api.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--listen="+addr, "--node-name="+node, "--data-dir="+data,
		"--store=memory", "--strategy-source=kubernetes", "--kube-mode=kubeconfig", "--kubeconfig="+kubeconfig,
		"--log-level=warn")
	// One P and a soft memory limit per server: a hundred of them share
	// two cores with the API server.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOMEMLIMIT=64MiB")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start bss-api for %s: %w", node, err)
	}
	s := &server{node: node, addr: addr, log: logPath, cmd: cmd, done: make(chan error, 1)}
	go func() {
		s.done <- cmd.Wait()
		_ = logFile.Close()
	}()
	return s, nil
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// waitBody polls GET path every 250 ms until it answers 200 with a body
// containing want, the server exits, or ctx ends.
func (s *server) waitBody(ctx context.Context, hc *http.Client, path, want string) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			body, rerr := readBody(resp)
			if rerr == nil && resp.StatusCode == http.StatusOK && strings.Contains(body, want) {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("bss-api for %s exited: %w (log: %s)", s.node, err, s.log)
		case <-ctx.Done():
			return fmt.Errorf("bss-api for %s not ready: %w (log: %s)", s.node, ctx.Err(), s.log)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stop ends the server with SIGTERM (SIGKILL after 10 s).
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("bss-api for %s did not stop within 10s of SIGTERM (killed): %w", s.node, <-s.done)
	}
}

// rss is the resident set size of process pid in bytes (VmRSS).
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), "VmRSS:")
	if !ok {
		return 0, errors.New("no VmRSS in /proc/PID/status")
	}
	line, _, _ := strings.Cut(rest, "\n")
	kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(line), " kB"), 10, 64)
	return kb << 10, err
}

// cpuTime is the user plus system CPU time process pid has used, from
// /proc/PID/stat (clock ticks of 1/100 s, Linux's USER_HZ).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command (field 2) may hold spaces; fields count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc/PID/stat: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// serversCPU is the CPU time the servers have used in all.
func serversCPU(servers []*server) time.Duration {
	var sum time.Duration
	for _, s := range servers {
		if d, err := cpuTime(s.cmd.Process.Pid); err == nil {
			sum += d
		}
	}
	return sum
}
