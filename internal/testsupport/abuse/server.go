package abuse

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is the built server running in a cgroup, its log in a file.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed

	mu    sync.Mutex
	lines []string // log lines of interest: memory limit, limits, errors
}

// StartServer runs bin with args in cg, on a free loopback port, logging
// JSON to logFile, and returns once it listens (not yet ready).
func StartServer(cg *Cgroup, bin, logFile string, args ...string) (*Server, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	// The shell joins the cgroup, then becomes the server: it is in the
	// cgroup from its first instruction, so it sees its limit at start
	// and every byte it uses is charged there.
	all := append([]string{"-c", `echo $$ > "$0" && exec "$@"`, cg.ProcsFile(), bin,
		"--listen=127.0.0.1:0", "--log-format=json", "--kube-mode=off"}, args...)
	cmd := exec.Command("/bin/sh", all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	s := &Server{cmd: cmd, log: logFile, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer f.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = f.Write(append(line, '\n'))
			var l struct{ Msg, Addr, Level string }
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			if l.Msg == "listening" {
				select {
				case addr <- l.Addr:
				default:
				}
			}
			if l.Msg == "memory limit" || l.Msg == "connection and body limits" || (l.Level == "ERROR" && l.Msg != "request") {
				s.mu.Lock()
				if len(s.lines) < 50 {
					s.lines = append(s.lines, string(line))
				}
				s.mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.Addr, s.URL = a, "http://"+a
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("the server exited before listening (%w); its log: %s", s.err, tail(logFile))
	case <-time.After(30 * time.Second):
		s.Kill()
		return nil, fmt.Errorf("the server did not listen within 30s; its log: %s", tail(logFile))
	}
}

// WaitReady polls /readyz until it answers 200.
func (s *Server) WaitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("the server exited (%w); its log: %s", s.err, tail(s.log))
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s (last: %w); its log: %s", within, err, tail(s.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Exited reports whether the process has exited, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// PeakRSS returns the process's peak resident set (VmHWM), or 0 once it
// has exited.
func (s *Server) PeakRSS() int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Lines returns the log lines of interest so far.
func (s *Server) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Stop sends SIGTERM and waits for the exit (SIGKILL after 20 s); it
// reports an exit that was not clean.
func (s *Server) Stop() error {
	if done, err := s.Exited(); done {
		return fmt.Errorf("the server had already exited: %w", err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.Kill()
		return errors.New("the server did not stop within 20s of SIGTERM")
	}
	return s.err
}

// Kill kills the process and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// tail returns the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
