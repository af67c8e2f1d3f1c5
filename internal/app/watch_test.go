package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bss-api/bss-api/internal/testsupport/apitest"
)

// heldGet sends a blocking GET of path with If-None-Match etag; the
// channel receives the response (body read) or the error.
func heldGet(ctx context.Context, url, etag string) <-chan heldAnswer {
	out := make(chan heldAnswer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			out <- heldAnswer{err: err}
			return
		}
		req.Header.Set("If-None-Match", etag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- heldAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- heldAnswer{resp: resp, body: string(body), err: err}
	}()
	return out
}

type heldAnswer struct {
	resp *http.Response
	body string
	err  error
}

func (h heldAnswer) String() string {
	if h.err != nil {
		return h.err.Error()
	}
	return fmt.Sprintf("%d ETag %s version %s: %.200s", h.resp.StatusCode, h.resp.Header.Get("ETag"), h.resp.Header.Get("X-BSS-Version"), h.body)
}

// watchWaiters reads bss_watch_waiters for route from /metrics.
func watchWaiters(t *testing.T, srv *testServer, route string) int {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := `bss_watch_waiters{route="` + route + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s%s: %v", prefix, v, err)
			}
			return n
		}
	}
	return 0
}

// TestWatchEndToEnd holds a scheduler's blocking GET on the real server: a
// strategy write wakes it with the new answer, and stopping the server
// answers the next one at once (Run returns nil: Shutdown did not wait the
// hold out, which --shutdown-timeout would have cut with an error).
func TestWatchEndToEnd(t *testing.T) {
	srv := startServer(t, nil, "--shutdown-timeout=20s", "--write-timeout=1s")
	const route = "GET /api/v1/scheduling/strategies"
	url := srv.URL + "/api/v1/scheduling/strategies"
	first := poll(t, 10*time.Second, "strategies resolved", func() (*apitest.Response, bool) {
		res := srv.API.Get(t, "/api/v1/scheduling/strategies")
		return res, res.StatusCode != http.StatusServiceUnavailable
	})
	etag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || etag == "" || first.Header.Get("X-BSS-Version") == "" {
		t.Fatalf("GET strategies = %d, ETag %q, X-BSS-Version %q", first.StatusCode, etag, first.Header.Get("X-BSS-Version"))
	}

	held := heldGet(t.Context(), url+"?wait=5m", etag)
	waitFor(t, 10*time.Second, "the GET to be held", func() bool { return watchWaiters(t, srv, route) == 1 })
	self := os.Getpid()
	postStrategies(t, srv, fmt.Sprintf(`{"strategies":[{"priority":true,"execution_time":5000000,"pid":%d}]}`, self))
	got := <-held
	if got.err != nil || got.resp.StatusCode != http.StatusOK || got.resp.Header.Get("ETag") == etag ||
		!strings.Contains(got.body, fmt.Sprintf(`"pid":%d`, self)) {
		t.Fatalf("held GET after the write = %s; want 200, a new ETag and pid %d", got, self)
	}

	// Past --write-timeout, then shutdown.
	etag = got.resp.Header.Get("ETag")
	held = heldGet(t.Context(), url+"?wait=5m", etag)
	waitFor(t, 10*time.Second, "the GET to be held", func() bool { return watchWaiters(t, srv, route) == 1 })
	time.Sleep(1500 * time.Millisecond) // longer than --write-timeout: the hold must survive it
	srv.stop()
	got = <-held
	if got.err != nil || got.resp.StatusCode != http.StatusNotModified || got.resp.Header.Get("ETag") != etag {
		t.Fatalf("held GET at shutdown = %s; want 304 with ETag %s", got, etag)
	}
}

// TestWatchRelabelEndToEnd holds a scheduler's blocking GET while a pod's
// labels change on a real kube-apiserver: each relabel that moves the
// pod's process in or out of a selector strategy wakes the waiter with
// the new answer. With BSS_WATCH_RELABELS=N it relabels N times and logs
// the latency from the patch to the waiter holding the answer (cmd/bss-watch
// -relabel runs it so); it asserts nothing about time.
func TestWatchRelabelEndToEnd(t *testing.T) {
	f := newKubeFixture(t)
	ns := f.namespace("watch")
	pod := f.pod(ns, "worker-0", f.node, map[string]string{"tier": "cold"}, "worker", "")
	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+f.cp.Kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot)
	waitKube(t, srv, pod.uid, wantKube(pod, map[string]string{"tier": "cold"}), 30*time.Second)
	postStrategies(t, srv, `{"strategies":[{"priority":true,"execution_time":5000000,"selectors":[{"key":"tier","value":"hot"}]}]}`)

	n := 1
	if s := os.Getenv("BSS_WATCH_RELABELS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("BSS_WATCH_RELABELS=%q: want a positive count", s)
		}
	}
	const route = "GET /api/v1/scheduling/strategies"
	url := srv.URL + "/api/v1/scheduling/strategies"
	entry := fmt.Sprintf(`"pid":%d`, pod.procs[1].PID)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		tier := []string{"hot", "cold"}[i%2]
		before := srv.API.Get(t, "/api/v1/scheduling/strategies")
		if strings.Contains(string(before.Body), entry) == (tier == "hot") {
			t.Fatalf("relabel %d to %s: the answer before it already shows it: %s", i, tier, before.Body)
		}
		held := heldGet(t.Context(), url+"?wait=1m", before.Header.Get("ETag"))
		waitFor(t, 10*time.Second, "the GET to be held", func() bool { return watchWaiters(t, srv, route) == 1 })
		start := time.Now()
		patch := fmt.Sprintf(`{"metadata":{"labels":{"tier":%q}}}`, tier)
		if _, err := f.client.CoreV1().Pods(ns).Patch(t.Context(), pod.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		got := <-held
		lat = append(lat, time.Since(start))
		if got.err != nil || got.resp.StatusCode != http.StatusOK || strings.Contains(got.body, entry) != (tier == "hot") {
			t.Fatalf("held GET after relabel %d to %s = %s; want 200 %s %s", i, tier, got, map[bool]string{true: "with", false: "without"}[tier == "hot"], entry)
		}
	}
	slices.Sort(lat)
	t.Logf("relabel → waiting client: %d relabels, p50 %s p99 %s max %s", n,
		lat[(len(lat)-1)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1])
}
