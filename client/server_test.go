package client_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/testsupport/apitest"
	"github.com/bss-api/bss-api/internal/testsupport/apprun"
	"github.com/bss-api/bss-api/internal/testsupport/testcert"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

const (
	operatorToken = "operator-token-of-the-client-tests"
	viewerToken   = "viewer-token-of-the-client-tests"
)

// realServer is the whole server, started in process as main starts it,
// with TLS, client certificates, static tokens and scheduler tokens.
type realServer struct {
	url       string
	ca        *testcert.CA
	publicPEM []byte
}

func startRealServer(t *testing.T, extra ...string) *realServer {
	t.Helper()
	dir := t.TempDir()
	rs := &realServer{ca: testcert.NewCA(t, "client test CA")}
	rs.ca.Server(t).WriteFiles(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	rs.ca.WriteFile(t, filepath.Join(dir, "ca.crt"))
	tokens := operatorToken + ",operator,bob\n" + viewerToken + ",viewer,alice\n,operator,ops-admin\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rs.publicPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "sched.pem"), rs.publicPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen=127.0.0.1:0", "--log-format=json", "--node-name=test-node",
		"--data-dir=" + filepath.Join(dir, "data"), "--kube-mode=off", "--cgroup-root=" + t.TempDir(),
		"--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc"),
		"--tls-cert-file=" + filepath.Join(dir, "tls.crt"), "--tls-key-file=" + filepath.Join(dir, "tls.key"),
		"--tls-client-ca-file=" + filepath.Join(dir, "ca.crt"), "--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--scheduler-public-key-file=" + filepath.Join(dir, "sched.pem")}
	args = append(args, extra...)
	rs.url = "https://" + apprun.Start(t, args)
	return rs
}

// client returns a client whose every answer is validated against the
// OpenAPI document.
func (rs *realServer) client(t *testing.T, v *apitest.Validator, opts ...client.Option) *client.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: rs.ca.Pool()}
	hc := &http.Client{Transport: v.Transport(t, tr)}
	c, err := client.New(rs.url, append([]client.Option{client.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryMethodAgainstTheRealServer calls every method once against the
// real handler stack, with each kind of credential, and checks every
// answer against the OpenAPI document as well as what it says.
func TestEveryMethodAgainstTheRealServer(t *testing.T) {
	rs := startRealServer(t)
	v := apitest.NewValidator(t)
	ctx := t.Context()
	op := rs.client(t, v, client.WithBearerToken(operatorToken))

	// Wait for the server the way a tool would.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := op.Ready(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, client.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	info, err := op.Info(ctx)
	if err != nil || info.Node != "test-node" || len(info.Endpoints) < 19 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if h, err := op.Health(ctx); err != nil || h.Status != "healthy" || h.Components["store"].Status != "ok" {
		t.Errorf("Health = %+v, %v", h, err)
	}
	if err := op.Live(ctx); err != nil {
		t.Errorf("Live: %v", err)
	}
	if doc, err := op.OpenAPI(ctx); err != nil || !strings.HasPrefix(string(doc), "openapi: 3") {
		t.Errorf("OpenAPI = %.40q, %v", doc, err)
	}

	// The scheduler: a token from its public key, then metrics and strategies.
	sched := rs.client(t, v, client.WithSchedulerKey(rs.publicPEM))
	if res, err := sched.PostMetrics(ctx, client.Metrics{UserschedLastRunAt: 1750329000, NrQueued: 10, NrOnlineCPUs: 8, NrUserDispatches: 100}); err != nil || res.Stored != 1 {
		t.Fatalf("PostMetrics = %+v, %v", res, err)
	}
	if res, err := sched.PostMetricsBatch(ctx, []client.Metrics{{NrQueued: 4, NrUserDispatches: 300}, {NrQueued: 5, NrUserDispatches: 400}}); err != nil || res.Stored != 2 {
		t.Fatalf("PostMetricsBatch = %+v, %v", res, err)
	}
	_, err = sched.Definitions(ctx)
	if !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a scheduler token reading definitions: %v; want ErrForbidden", err)
	}
	tok, err := op.IssueToken(ctx, string(rs.publicPEM))
	if err != nil || tok.Value() == "" || tok.Token != tok.Data.Token || time.Until(tok.Expires()) < time.Hour {
		t.Errorf("IssueToken = %+v, %v", tok, err)
	}

	if m, err := op.LatestMetrics(ctx); err != nil || m.Metrics.NrQueued != 5 || m.Node != "test-node" {
		t.Errorf("LatestMetrics = %+v, %v", m, err)
	}
	hist, err := op.MetricsHistory(ctx, client.HistoryQuery{Since: "1h", Limit: 2})
	if err != nil || hist.Count != 2 || !hist.HasMore || hist.Samples[0].UserschedLastRunAt != 1750329000 {
		t.Fatalf("MetricsHistory page 1 = %+v, %v", hist, err)
	}
	if next, err := op.MetricsHistory(ctx, client.HistoryQuery{Since: hist.NextSince}); err != nil || next.Count != 1 || next.Samples[0].NrQueued != 5 {
		t.Errorf("MetricsHistory page 2 = %+v, %v", next, err)
	}
	if sum, err := op.MetricsSummary(ctx, 10*time.Minute); err != nil || sum.Samples != 3 || sum.Window != "10m0s" || sum.Gauges["nr_queued"].Max != 10 {
		t.Errorf("MetricsSummary = %+v, %v", sum, err)
	}

	// Strategies, as an operator writes them and a scheduler reads them.
	saved, err := op.ReplaceStrategies(ctx, []client.Strategy{
		{Priority: 1, ExecutionTime: 20_000_000, CommandRegex: "^loki$"},
		{Name: "pause-pid", ExecutionTime: 10_000_000, PID: 717720},
	})
	if err != nil || saved.Saved != 2 || strings.Join(saved.Strategies, ",") != "strategy-1,pause-pid" {
		t.Fatalf("ReplaceStrategies = %+v, %v", saved, err)
	}
	s, err := sched.Strategies(ctx)
	want := []client.SchedulingEntry{{Priority: 0, ExecutionTime: 10_000_000, PID: 717720}, {Priority: 1, ExecutionTime: 20_000_000, PID: 718001}}
	if err != nil || len(s.Scheduling) != 2 || s.Scheduling[0] != want[0] || s.Scheduling[1] != want[1] || s.ETag == "" {
		t.Fatalf("Strategies = %+v, %v; want %+v", s, err, want)
	}
	if _, err := sched.Strategies(ctx, client.IfNoneMatch(s.ETag)); !errors.Is(err, client.ErrNotModified) {
		t.Errorf("Strategies with its own ETag: %v; want ErrNotModified", err)
	}
	if vs, err := op.Strategies(ctx, client.Verbose()); err != nil || vs.Scheduling[1].Strategy != "strategy-1" || vs.Scheduling[1].Command != "loki" {
		t.Errorf("Strategies verbose = %+v, %v", vs, err)
	}

	put, err := op.PutDefinition(ctx, "loki-threads", client.Strategy{Priority: 1, ExecutionTime: 5_000_000, CommandRegex: "^loki$", Threads: true})
	if err != nil || !put.Created || put.Strategy.Name != "loki-threads" || !put.Strategy.Threads {
		t.Fatalf("PutDefinition = %+v, %v", put, err)
	}
	if put, err = op.PutDefinition(ctx, "loki-threads", client.Strategy{ExecutionTime: 6_000_000, CommandRegex: "^loki$"}); err != nil || put.Created {
		t.Errorf("PutDefinition again = %+v, %v; want a replacement", put, err)
	}
	_, err = op.PutDefinition(ctx, "bad", client.Strategy{ExecutionTime: 5, CommandRegex: "x"})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, client.ErrBadRequest) || !strings.Contains(apiErr.Message, "execution_time") {
		t.Errorf("PutDefinition of a bad strategy: %v; want a 400 naming execution_time", err)
	}
	defs, err := op.Definitions(ctx)
	if err != nil || len(defs.Strategies) != 3 || defs.Strategies[2].Name != "loki-threads" || defs.Strategies[1].PID != 717720 {
		t.Errorf("Definitions = %+v, %v", defs, err)
	}
	if err := op.DeleteDefinition(ctx, "loki-threads"); err != nil {
		t.Errorf("DeleteDefinition: %v", err)
	}
	if err := op.DeleteDefinition(ctx, "loki-threads"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("DeleteDefinition of a missing one: %v; want ErrNotFound", err)
	}
	pre, err := op.Preview(ctx, []client.Strategy{{Name: "everything", ExecutionTime: 1_000_000, CommandRegex: "."}})
	if err != nil || len(pre.Strategies) != 1 || pre.Strategies[0].Won == 0 || len(pre.Scheduling) != pre.Strategies[0].Won {
		t.Errorf("Preview = %+v, %v", pre, err)
	}
	ex, err := op.Explain(ctx)
	if err != nil || len(ex.PIDs) != 2 || ex.PIDs[1].Winner != "strategy-1" {
		t.Errorf("Explain = %+v, %v", ex, err)
	}

	pods, err := sched.PodPIDs(ctx, client.PodFilter{PID: 718001, IncludeThreads: true})
	if err != nil || len(pods.Pods) != 1 || pods.ETag == "" || pods.Version == 0 {
		t.Fatalf("PodPIDs = %+v, %v", pods, err)
	}
	if _, err := sched.PodPIDs(ctx, client.PodFilter{PID: 718001, IncludeThreads: true}, client.IfNoneMatch(pods.ETag)); !errors.Is(err, client.ErrNotModified) {
		t.Errorf("PodPIDs with its own ETag: %v; want ErrNotModified", err)
	}
	err = sched.WatchPodPIDs(ctx, client.PodFilter{Namespace: "absent"}, client.WatchOptions{}, func(p *client.Pods) error {
		if len(p.Pods) != 0 || p.ETag == "" {
			t.Errorf("WatchPodPIDs in a namespace without pods: %+v", p)
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("WatchPodPIDs = %v; want fn's error", err)
	}
	audit, err := op.Audit(ctx, client.HistoryQuery{Since: "1h"})
	if err != nil || audit.Count < 4 || audit.Records[0].Identity != "bob" || audit.Records[0].Change == nil {
		t.Errorf("Audit = %+v, %v", audit, err)
	}
	if prom, err := op.PrometheusMetrics(ctx); err != nil || !strings.Contains(string(prom), "bss_nr_queued") {
		t.Errorf("PrometheusMetrics: %v", err)
	}

	// mTLS: a client certificate the token file maps to the operator role.
	cert := rs.ca.Client(t, "ops-admin").TLS()
	mtls, err := client.New(rs.url, client.WithTLSConfig(&tls.Config{RootCAs: rs.ca.Pool(), Certificates: []tls.Certificate{cert}}))
	if err != nil {
		t.Fatal(err)
	}
	if defs, err := mtls.Definitions(ctx); err != nil || len(defs.Strategies) != 2 {
		t.Errorf("Definitions over mTLS = %+v, %v", defs, err)
	}
	viewer := rs.client(t, v, client.WithBearerToken(viewerToken))
	if err := viewer.DeleteDefinition(ctx, "pause-pid"); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("a viewer deleting: %v; want ErrForbidden", err)
	}

	// A watch sees a write: the first answer, then the one after the PUT.
	var seen []*client.Strategies
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = sched.WatchStrategies(wctx, client.WatchOptions{Wait: 5 * time.Second, MinInterval: 20 * time.Millisecond}, func(s *client.Strategies) error {
		seen = append(seen, s)
		if len(seen) == 1 {
			_, err := op.PutDefinition(ctx, "pause-pid", client.Strategy{Priority: 1, ExecutionTime: 7_000_000, PID: 717720})
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) || len(seen) != 2 || seen[1].Scheduling[0].ExecutionTime != 7_000_000 || !seen[1].Scheduling[0].Priority.Boosted() {
		t.Errorf("WatchStrategies = %v after %d answers; want the write seen", err, len(seen))
	}
}

// TestPriorityLevelsInEitherFormat writes a level above 1 and reads it
// back from servers of both --priority-format values: the resolved entry
// decodes to the level (int) or to 1 (bool), the definition to the level.
func TestPriorityLevelsInEitherFormat(t *testing.T) {
	for format, want := range map[string]client.Priority{"bool": 1, "int": 3} {
		t.Run(format, func(t *testing.T) {
			rs := startRealServer(t, "--priority-format="+format)
			v := apitest.NewValidator(t)
			op := rs.client(t, v, client.WithBearerToken(operatorToken))
			ctx := t.Context()
			if _, err := op.ReplaceStrategies(ctx, []client.Strategy{
				{Name: "loki", Priority: 3, ExecutionTime: 20_000_000, CommandRegex: "^loki$"},
				{Name: "pause", Priority: 0, ExecutionTime: 10_000_000, PID: 717720},
			}); err != nil {
				t.Fatal(err)
			}
			s, err := rs.client(t, v, client.WithSchedulerKey(rs.publicPEM)).Strategies(ctx)
			if err != nil || len(s.Scheduling) != 2 || s.Scheduling[0].Priority != 0 || s.Scheduling[1].Priority != want {
				t.Fatalf("Strategies = %+v, %v; want levels 0 and %d", s, err, want)
			}
			defs, err := op.Definitions(ctx)
			if err != nil || len(defs.Strategies) != 2 || defs.Strategies[0].Priority != 3 || defs.Strategies[1].Priority != 0 {
				t.Errorf("Definitions = %+v, %v; want the levels as written", defs, err)
			}
			_, err = op.PutDefinition(ctx, "too-high", client.Strategy{Priority: 21, ExecutionTime: 1_000_000, CommandRegex: "^x$"})
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "priority") {
				t.Errorf("PutDefinition of level 21: %v; want a 400 naming priority", err)
			}
		})
	}
}

var errStop = errors.New("stop")
