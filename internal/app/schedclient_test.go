package app

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/apitest"
)

// This file is a scheduler written from the facts of the schedulers'
// wire formats (C2 to C5) and nothing else: how they ask for a token, which
// part of the answer they read, and the requests they send with it.

// clientVersion is one of the schedulers that use tokens.
type clientVersion struct {
	name string
	// dataShape: the token is read from data.token and data.expired_at
	// (C4, C5); otherwise from the top-level token, assumed valid for 23
	// hours (C2, C3).
	dataShape bool
	// intPriority: priority is decoded as an integer (C5), else as a bool.
	intPriority bool
}

var tokenClients = []clientVersion{
	{name: "C2", dataShape: false},
	{name: "C3", dataShape: false},
	{name: "C4", dataShape: true},
	{name: "C5", dataShape: true, intPriority: true},
}

// scheduler is one scheduler process: its public key, and the token it
// holds until the expiry it was told.
type scheduler struct {
	version   clientVersion
	base      string
	publicPEM []byte
	validator *apitest.Validator

	token     string
	expiresAt time.Time
}

// newScheduler returns a scheduler of version v for the server at base,
// with the scheduler's public key publicPEM.
func newScheduler(t *testing.T, v clientVersion, base string, publicPEM []byte) *scheduler {
	return &scheduler{version: v, base: base, publicPEM: publicPEM, validator: apitest.NewValidator(t)}
}

// do sends a request as the schedulers do: Content-Type: application/json
// even without a body, Accept-Encoding: gzip, and the bearer token once it
// has one. It returns the status and the (decompressed) body, checked
// against the OpenAPI document.
func (s *scheduler) do(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: gzip: %v", method, path, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	s.validator.Check(t, req, body, resp, b)
	return resp.StatusCode, b
}

// login asks for a token with the scheduler's public key, as the
// schedulers do: success is status 200 with success true and a non-empty
// token, read from the part of the answer this version reads.
func (s *scheduler) login(t *testing.T) (status int, ok bool) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"public_key": string(s.publicPEM)})
	if err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	status, b := s.do(t, http.MethodPost, "/api/v1/auth/token", body)
	var answer struct {
		Success bool   `json:"success"`
		Token   string `json:"token"`
		Data    struct {
			Token     string `json:"token"`
			ExpiredAt int64  `json:"expired_at"`
		} `json:"data"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &answer) != nil || !answer.Success {
		return status, false
	}
	if s.version.dataShape {
		s.token, s.expiresAt = answer.Data.Token, time.Unix(answer.Data.ExpiredAt, 0)
	} else {
		s.token, s.expiresAt = answer.Token, asked.Add(23*time.Hour)
	}
	return status, s.token != ""
}

// postMetrics posts one sample; success is status 200.
func (s *scheduler) postMetrics(t *testing.T) int {
	t.Helper()
	status, _ := s.do(t, http.MethodPost, "/api/v1/metrics", []byte(`{"usersched_last_run_at":1750329000,"nr_queued":10,
		"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8,"nr_user_dispatches":100,"nr_kernel_dispatches":50,
		"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,"nr_failed_dispatches":0,"nr_sched_congested":3}`))
	return status
}

// strategies polls the strategies and decodes them into what this version
// decodes. applied reports whether the scheduler would apply the answer:
// status 200, success true, and a body that decodes.
func (s *scheduler) strategies(t *testing.T) (status int, applied bool) {
	t.Helper()
	status, b := s.do(t, http.MethodGet, "/api/v1/scheduling/strategies", nil)
	var envelope struct {
		Success    bool            `json:"success"`
		Message    string          `json:"message"`
		Timestamp  string          `json:"timestamp"`
		Scheduling json.RawMessage `json:"scheduling"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &envelope) != nil || !envelope.Success {
		return status, false
	}
	var err error
	if s.version.intPriority {
		var list []struct {
			Priority      int    `json:"priority"`
			ExecutionTime uint64 `json:"execution_time"`
			PID           int    `json:"pid"`
		}
		err = json.Unmarshal(envelope.Scheduling, &list)
	} else {
		var list []struct {
			Priority      bool   `json:"priority"`
			ExecutionTime uint64 `json:"execution_time"`
			PID           int    `json:"pid"`
		}
		err = json.Unmarshal(envelope.Scheduling, &list)
	}
	return status, err == nil
}

// schedulerKeyFile writes a new RSA public key as PEM (PKIX) to a file
// and returns its path and contents.
func schedulerKeyFile(t *testing.T) (path string, publicPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	path = filepath.Join(t.TempDir(), "scheduler.pub.pem")
	if err := os.WriteFile(path, publicPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, publicPEM
}

// TestSchedulerClientsGetAndUseTokens: every scheduler version that uses
// tokens gets one, posts metrics and reads strategies with it, and still
// does after the server restarts on the same data directory, without
// asking again (they never retry on 401).
func TestSchedulerClientsGetAndUseTokens(t *testing.T) {
	keyFile, publicPEM := schedulerKeyFile(t)
	args := []string{"--data-dir=" + t.TempDir(), "--scheduler-public-key-file=" + keyFile, "--kube-mode=off", "--cgroup-root=" + t.TempDir()}
	srv := startServer(t, nil, args...)

	schedulers := make([]*scheduler, len(tokenClients))
	for i, v := range tokenClients {
		s := newScheduler(t, v, srv.URL, publicPEM)
		if status, _ := s.strategies(t); status != http.StatusUnauthorized {
			t.Errorf("%s without a token: GET strategies = %d, want 401", v.name, status)
		}
		if status, ok := s.login(t); !ok {
			t.Fatalf("%s: no token (%d)", v.name, status)
		}
		if v.dataShape && time.Until(s.expiresAt) < 24*time.Hour-time.Minute {
			t.Errorf("%s was told the token expires at %s, sooner than 24h", v.name, s.expiresAt)
		}
		schedulers[i] = s
	}
	use := func(when string) {
		t.Helper()
		for _, s := range schedulers {
			if status := s.postMetrics(t); status != http.StatusOK {
				t.Errorf("%s %s: POST metrics = %d, want 200", s.version.name, when, status)
			}
			// A scheduler polls again after a 503 (no resolution yet, just
			// after a start), keeping what it has meanwhile.
			type answer struct {
				status  int
				applied bool
			}
			got := poll(t, 10*time.Second, "strategies resolved", func() (answer, bool) {
				status, applied := s.strategies(t)
				return answer{status, applied}, status != http.StatusServiceUnavailable
			})
			if got != (answer{http.StatusOK, true}) {
				t.Errorf("%s %s: GET strategies = %d, applied %v; want 200, applied", s.version.name, when, got.status, got.applied)
			}
		}
	}
	use("before the restart")

	stopServer(t, srv)
	srv = startServer(t, nil, args...)
	for _, s := range schedulers {
		s.base = srv.URL
	}
	use("after the restart")

	// Another key gets nothing.
	_, otherPEM := schedulerKeyFile(t)
	intruder := newScheduler(t, tokenClients[3], srv.URL, otherPEM)
	if status, ok := intruder.login(t); ok || status != http.StatusUnauthorized {
		t.Errorf("a scheduler with another public key: token request = %d (token %v), want 401", status, ok)
	}
}

// TestFleetSharesSchedulerTokens: servers given the same
// --scheduler-token-key-file accept each other's tokens; a server with its
// own key (kept in its store) refuses them.
func TestFleetSharesSchedulerTokens(t *testing.T) {
	keyFile, publicPEM := schedulerKeyFile(t)
	fleetKey := filepath.Join(t.TempDir(), "token-key")
	if err := os.WriteFile(fleetKey, []byte("bXkgZmxlZXQncyBzaGFyZWQgc2lnbmluZyBrZXkgMDEyMzQ1Njc4OQ==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--scheduler-public-key-file=" + keyFile, "--kube-mode=off", "--cgroup-root=" + t.TempDir()}
	a := startServer(t, nil, append(common, "--scheduler-token-key-file="+fleetKey)...)
	b := startServer(t, nil, append(common, "--scheduler-token-key-file="+fleetKey)...)
	loner := startServer(t, nil, common...)

	s := newScheduler(t, tokenClients[3], a.URL, publicPEM)
	if status, ok := s.login(t); !ok {
		t.Fatalf("no token from server a (%d)", status)
	}
	s.base = b.URL
	if status := s.postMetrics(t); status != http.StatusOK {
		t.Errorf("server b refused server a's token: %d", status)
	}
	s.base = loner.URL
	if status := s.postMetrics(t); status != http.StatusUnauthorized {
		t.Errorf("a server with another signing key: POST metrics = %d, want 401", status)
	}
}

// TestSchedulerKeyFilesCheckedAtStart: a bad public key or signing key
// file is a usage error, found before the store is opened.
func TestSchedulerKeyFilesCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	keyFile, _ := schedulerKeyFile(t)
	short := filepath.Join(dir, "short-key")
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"missing public key": {[]string{"--scheduler-public-key-file=" + filepath.Join(dir, "nope.pem")}, "scheduler public key"},
		"not a public key":   {[]string{"--scheduler-public-key-file=" + short}, "no PEM block"},
		"short signing key":  {[]string{"--scheduler-public-key-file=" + keyFile, "--scheduler-token-key-file=" + short}, "at least 32 are needed"},
	} {
		data := filepath.Join(dir, name)
		args := append([]string{"--listen=127.0.0.1:0", "--data-dir=" + data}, c.args...)
		err := Run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run() = %v (exit %d), want a usage error containing %q", name, err, ExitCode(err), c.want)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%s: the data directory was created before the key files were checked (%v)", name, err)
		}
	}
}
