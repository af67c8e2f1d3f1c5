package bssctl_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/bssctl"
	"github.com/bss-api/bss-api/internal/testsupport/apprun"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the output the tests get")

const (
	operatorToken = "operator-token-of-the-bssctl-tests"
	viewerToken   = "viewer-token-of-the-bssctl-tests"
)

// server is a real bss-api started in process, as main starts it, on the
// proc fixture of internal/procs/testdata with mock pod names
// (testdata/pods.yaml), so pods, PIDs and commands are the same every run.
type server struct {
	url string
	api *client.Client // the operator's client, to seed the server
}

// serverOpts vary the servers of the tests.
type serverOpts struct {
	tokens bool     // static tokens: operatorToken and viewerToken
	args   []string // more flags
	// real: the host's /proc, the cgroups under cgroupRoot, and the pod
	// names of mockPods, instead of the fixture.
	real                 bool
	cgroupRoot, mockPods string
}

func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	dir := t.TempDir()
	root := testenv.RepoRoot(t)
	args := []string{"--listen=127.0.0.1:0", "--log-format=json", "--node-name=test-node",
		"--data-dir=" + filepath.Join(dir, "data"), "--kube-mode=mock", "--write-rate=1000", "--write-burst=1000"}
	if o.real {
		args = append(args, "--mock-pods="+o.mockPods, "--cgroup-root="+o.cgroupRoot)
	} else {
		args = append(args, "--mock-pods="+filepath.Join(root, "internal", "bssctl", "testdata", "pods.yaml"),
			"--proc-root="+filepath.Join(root, "internal", "procs", "testdata", "proc"),
			"--cgroup-root="+filepath.Join(dir, "cgroup"))
	}
	var opts []client.Option
	if o.tokens {
		file := filepath.Join(dir, "tokens.csv")
		lines := operatorToken + ",operator,bob\n" + viewerToken + ",viewer,alice\n"
		if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--token-auth-file="+file)
		opts = append(opts, client.WithBearerToken(operatorToken))
	}
	args = append(args, o.args...)
	return runServer(t, args, opts)
}

// runServer runs the server with args and waits until it is ready.
func runServer(t *testing.T, args []string, opts []client.Option) *server {
	t.Helper()
	srv := &server{url: "http://" + apprun.Start(t, args)}
	c, err := client.New(srv.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv.api = c
	waitFor(t, 20*time.Second, "server ready", func() bool {
		_, err := c.Ready(context.Background())
		return err == nil
	})
	return srv
}

// result is what one bssctl run gave.
type result struct {
	out, err string
	code     int
}

// run runs bssctl in process with args, the environment env (nothing
// else: HOME is unset unless env sets it) and stdin.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := bssctl.Run(ctx, args, bssctl.IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut,
		Getenv: func(k string) string { return env[k] }})
	return result{out: out.String(), err: errOut.String(), code: code}
}

// on runs bssctl against srv (BSS_SERVER) with extra environment.
func (s *server) run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	e := map[string]string{"BSS_SERVER": s.url}
	for k, v := range env {
		e[k] = v
	}
	return run(t, e, "", args...)
}

// ok fails t unless r exited 0 with nothing on stderr but notes.
func (r result) ok(t *testing.T, what string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d, stderr %q, stdout %q", what, r.code, r.err, r.out)
	}
	return r
}

// fails checks that r exited with code and printed one line on stderr that
// contains want.
func (r result) fails(t *testing.T, what string, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit %d, want %d (stderr %q)", what, r.code, code, r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.err, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], want) {
		t.Errorf("%s: stderr %q, want one line \"error: …%s…\"", what, r.err, want)
	}
}

var (
	maskRFC3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	maskClock   = regexp.MustCompile(`\b\d\d:\d\d:\d\d UTC\b`)
)

// mask replaces what differs between runs (times) with fixed text.
func mask(s string) string {
	s = maskRFC3339.ReplaceAllString(s, "<TIME>")
	return maskClock.ReplaceAllString(s, "<CLOCK>")
}

// golden compares got with testdata/NAME.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/bssctl -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// waitFor polls cond every 20ms until it holds, failing t after bound.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedStrategies stores the strategies the golden files show.
func seedStrategies(t *testing.T, s *server) {
	t.Helper()
	list := []client.Strategy{
		{Name: "loki", Priority: 2, ExecutionTime: 20_000_000, Namespaces: []string{"monitoring"}, CommandRegex: "^loki$"},
		{Name: "weird", Priority: 1, ExecutionTime: 5_000_000, LabelSelector: &client.LabelSelector{
			MatchLabels:      map[string]string{"app": "weird"},
			MatchExpressions: []client.LabelSelectorRequirement{{Key: "tier", Operator: "DoesNotExist"}}}},
		{Name: "pinned", ExecutionTime: 1_000_000, PID: 718001, Nodes: []string{"test-node"}},
		{Name: "nobody", Priority: 5, ExecutionTime: 2_000_000, Selectors: []client.Selector{{Key: "app", Value: "none"}}},
	}
	if _, err := s.api.ReplaceStrategies(context.Background(), list); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
