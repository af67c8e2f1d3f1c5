package fanout

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

var (
	flagServers    = flag.Int("fanout.servers", 100, "BenchmarkFanout: bss-api processes (1 to 100)")
	flagStrategies = flag.Int("fanout.strategies", 1000, "BenchmarkFanout: ClusterSchedulingStrategy objects")
	flagChanges    = flag.Int("fanout.changes", 20, "BenchmarkFanout: changes of the target object")
	flagGap        = flag.Duration("fanout.gap", 500*time.Millisecond, "BenchmarkFanout: pause between changes")
	flagHolder     = flag.Bool("fanout.holder-writes-status", false, "BenchmarkFanout: leave the objects' first status to the Lease holder, with every server running")
)

// setup starts a control plane with the CRDs and builds bss-api once.
func setup(t testing.TB) Options {
	t.Helper()
	cp := testenv.StartControlPlane(t)
	dyn := crdtest.Install(t, cp.Config())
	pid, err := os.ReadFile(filepath.Join(cp.Dir, "kube-apiserver.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var apiPID int
	if _, err := fmt.Sscan(string(pid), &apiPID); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := BuildServer(t.Context(), testenv.RepoRoot(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Bin: bin, Dir: dir, Kubeconfig: cp.Kubeconfig, Client: dyn, APIServer: apiPID}
}

// TestFanoutSmoke runs the benchmark's core with three servers: the Lease
// holder among them writes every object's first status, each server
// reflects every change of the target object and the figures are filled.
func TestFanoutSmoke(t *testing.T) {
	o := setup(t)
	o.Servers, o.Strategies, o.Changes, o.Gap = 3, 7, 3, 50*time.Millisecond
	o.HolderWrites = true // the Lease holder settles the objects
	o.Log = testWriter{t}
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Latency) != 3*3 {
		t.Fatalf("want 9 latencies (3 servers x 3 changes), got %d", len(res.Latency))
	}
	for _, d := range res.Latency {
		if d <= 0 {
			t.Fatalf("a latency is not positive: %v", res.Latency)
		}
	}
	if len(res.RSS) != 3 || res.RSS[0] <= 0 {
		t.Fatalf("want the VmRSS of 3 servers, got %v", res.RSS)
	}
	if res.ObjectBytes == 0 || len(res.Update) != 3 {
		t.Fatalf("object size %d, %d update latencies", res.ObjectBytes, len(res.Update))
	}
	res.Write(testWriter{t})
}

// BenchmarkFanout is the measurement of docs/performance.md:
//
//	go test ./internal/fanout -run '^$' -bench Fanout -benchtime 1x -timeout 30m
//
// (flags -fanout.servers, -fanout.strategies, -fanout.changes after -args).
// It runs once whatever b.N is.
func BenchmarkFanout(b *testing.B) {
	o := setup(b)
	o.Servers, o.Strategies, o.Changes, o.Gap = *flagServers, *flagStrategies, *flagChanges, *flagGap
	o.HolderWrites = *flagHolder
	o.Log = os.Stdout
	res, err := Run(b.Context(), o)
	if err != nil {
		b.Fatal(err)
	}
	res.Write(os.Stdout)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
