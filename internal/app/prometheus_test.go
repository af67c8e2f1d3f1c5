package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestRealPrometheusScrapesServer runs a real Prometheus server that scrapes
// bss-api every second, pushes metrics into bss-api, and reads them back
// through Prometheus's query API. It then stops pushing and checks that the
// scheduler's series go stale in Prometheus.
func TestRealPrometheusScrapesServer(t *testing.T) {
	bin := testenv.Binary(t, "BSS_PROMETHEUS_BIN", "prometheus")
	srv := startServer(t, nil, "--metrics-staleness=3s", "--node-name=prom-node")
	prom := startPrometheus(t, bin, strings.TrimPrefix(srv.URL, "http://"))

	// Push like a scheduler does, until every value has been seen.
	pushCtx, stopPushing := context.WithCancel(context.Background())
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if code, body := postJSON(t, srv.URL+"/api/v1/metrics", seedMetrics); code != http.StatusOK {
				t.Errorf("POST /api/v1/metrics = %d %s", code, body)
				return
			}
			select {
			case <-pushCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { stopPushing(); <-pushed }()
	for query, want := range map[string]string{
		`bss_nr_queued{node="prom-node",job="bss"}`:                               "10",
		`bss_nr_online_cpus{node="prom-node"}`:                                    "8",
		`bss_nr_user_dispatches_total{node="prom-node"}`:                          "100",
		`bss_nr_sched_congested_total{node="prom-node"}`:                          "3",
		`bss_usersched_pid{node="prom-node"}`:                                     "1234",
		`count(bss_metrics_samples_received_total{node="prom-node"} >= 1)`:        "1",
		`count(bss_http_requests_total{route="POST /api/v1/metrics",code="200"})`: "1",
		`up{job="bss"}`:                   "1",
		`count(go_goroutines{job="bss"})`: "1",
		`count(bss_last_push_timestamp_seconds{node="prom-node"} > 1700000000)`: "1",
	} {
		waitFor(t, 30*time.Second, "Prometheus to return "+want+" for "+query, func() bool {
			vals := promQuery(t, prom, query)
			return len(vals) == 1 && vals[0] == want
		})
	}
	stopPushing()
	<-pushed
	// No more pushes: after the staleness period the series leave /metrics,
	// and Prometheus marks them stale at its next scrape.
	waitFor(t, 30*time.Second, "bss_nr_queued to go stale in Prometheus", func() bool {
		return len(promQuery(t, prom, `bss_nr_queued{node="prom-node"}`)) == 0
	})
	if vals := promQuery(t, prom, `bss_last_push_timestamp_seconds{node="prom-node"}`); len(vals) != 1 {
		t.Errorf("bss_last_push_timestamp_seconds = %v, want it kept after staleness", vals)
	}
}

// startPrometheus runs Prometheus on a free loopback port scraping target
// every second, and returns its base URL.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bss
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("prometheus log:\n%s", b)
			}
		}
	})
	base := "http://" + addr
	waitFor(t, 60*time.Second, "Prometheus to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// promQuery runs an instant query and returns the sample values.
func promQuery(t *testing.T, base, query string) []string {
	t.Helper()
	samples := promInstant(t, base, query)
	vals := make([]string, 0, len(samples))
	for _, s := range samples {
		vals = append(vals, fmt.Sprint(s.Value[1]))
	}
	return vals
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
