package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/store/sqlstore"
)

// binServer is the built server running as a child process, with every
// line it logs kept.
type binServer struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	client *http.Client

	mu     sync.Mutex
	lines  []string
	exited chan struct{} // closed once the process has exited
	status int           // its exit status, once exited
}

// serverArgs are the arguments every server of these tests gets.
var serverArgs = []string{"--listen=127.0.0.1:0", "--log-format=json", "--kube-mode=off"}

// launch starts the server with args; it does not wait for it to listen.
func launch(t testing.TB, args ...string) *binServer {
	t.Helper()
	s := &binServer{t: t, exited: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}}
	s.cmd = exec.Command(binPath, append(append([]string{}, serverArgs...), args...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
		}
		err := s.cmd.Wait()
		var ee *exec.ExitError
		s.mu.Lock()
		if errors.As(err, &ee) {
			s.status = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				s.status = -int(ws.Signal())
			}
		}
		s.mu.Unlock()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("server (pid %d) log:\n%s", s.cmd.Process.Pid, strings.Join(s.log(), "\n"))
		}
	})
	return s
}

// runServer starts the server and waits until it listens.
func runServer(t testing.TB, args ...string) *binServer {
	t.Helper()
	s := launch(t, args...)
	line := s.waitLog(`"msg":"listening"`, 30*time.Second)
	var l struct{ Addr string }
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Addr == "" {
		t.Fatalf("no address in %q", line)
	}
	s.url = "http://" + l.Addr
	return s
}

// log returns the lines logged so far.
func (s *binServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// problems is what the server logged other than its INFO records: what a
// server that refuses to start says, in one line, after the records of
// its settings (memory and connection limits) that come before.
func (s *binServer) problems() []string {
	var out []string
	for _, l := range s.log() {
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"level":"INFO"`) {
			out = append(out, l)
		}
	}
	return out
}

// count is how many lines logged so far contain sub.
func (s *binServer) count(sub string) int {
	n := 0
	for _, l := range s.log() {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// waitLog waits for a line containing sub and returns it; it fails the
// test if the server exits or the time runs out first.
func (s *binServer) waitLog(sub string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range s.log() {
			if strings.Contains(l, sub) {
				return l
			}
		}
		select {
		case <-s.exited:
			for _, l := range s.log() { // lines logged just before the exit
				if strings.Contains(l, sub) {
					return l
				}
			}
			s.t.Fatalf("the server exited (status %d) before logging %q", s.exitStatus(), sub)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no log line with %q within %v", sub, timeout)
		}
	}
}

// exitStatus waits up to 30 s for the process to exit and returns its
// status: the exit code, or minus the signal that killed it.
func (s *binServer) exitStatus() int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Fatal("the server did not exit within 30s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// stop sends SIGTERM and returns the exit status.
func (s *binServer) stop() int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	return s.exitStatus()
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *binServer) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	<-s.exited
}

// do sends a request (a JSON body when body is not empty) and returns
// the status and body; status 0 when there was no answer.
func (s *binServer) do(method, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postSamples posts one sample per value of nr_queued.
func (s *binServer) postSamples(queued ...uint64) (int, string) {
	s.t.Helper()
	var b bytes.Buffer
	b.WriteString("[")
	for i, q := range queued {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"usersched_pid":7,"nr_queued":%d}`, q)
	}
	b.WriteString("]")
	return s.do(http.MethodPost, "/api/v1/metrics", b.String())
}

// putStrategy writes the strategy called name.
func (s *binServer) putStrategy(name string) (int, string) {
	s.t.Helper()
	return s.do(http.MethodPut, "/api/v1/scheduling/strategies/definitions/"+name, `{"execution_time":1000000,"command_regex":"^x$"}`)
}

// probe is what /health or /readyz answered.
type probe struct {
	code       int
	Status     string `json:"status"`
	Components map[string]struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"components"`
}

func (p probe) store() string {
	return p.Components["store"].Status + ": " + p.Components["store"].Detail
}

// health reads path, /health or /readyz.
func (s *binServer) health(path string) probe {
	s.t.Helper()
	code, body := s.do(http.MethodGet, path, "")
	p := probe{code: code}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		s.t.Fatalf("GET %s = %d %q: %v", path, code, body, err)
	}
	return p
}

// storedQueued pages through the whole history and returns the
// nr_queued of every stored sample, oldest first.
func (s *binServer) storedQueued() []uint64 {
	s.t.Helper()
	var out []uint64
	since := ""
	for {
		code, body := s.do(http.MethodGet, "/api/v1/metrics/history?limit=10000"+since, "")
		if code != http.StatusOK {
			s.t.Fatalf("GET history = %d %s", code, body)
		}
		var page struct {
			HasMore   bool   `json:"has_more"`
			NextSince string `json:"next_since"`
			Samples   []struct {
				NrQueued uint64 `json:"nr_queued"`
			} `json:"samples"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			s.t.Fatal(err)
		}
		for _, smp := range page.Samples {
			out = append(out, smp.NrQueued)
		}
		if !page.HasMore {
			return out
		}
		since = "&since=" + page.NextSince
	}
}

// waitUntil polls cond every 20 ms for up to timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// integrity runs SQLite's integrity check on the database at path, which
// no server has open.
func integrity(t testing.TB, path string) {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{MaxCount: 1 << 30, MaxAge: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

// seq returns from, from+1, ..., to.
func seq(from, to uint64) []uint64 {
	var out []uint64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}
