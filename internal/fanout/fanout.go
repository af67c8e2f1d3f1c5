// Package fanout measures how fast a change to one strategy custom
// resource reaches many bss-api servers that read their strategies from
// the Kubernetes API (--strategy-source=kubernetes): the benchmark of
// docs/performance.md, "Fan-out through the Kubernetes API".
package fanout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/bss-api/bss-api/internal/crd"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
)

const (
	strategiesPath = "/api/v1/scheduling/strategies"
	// targetName sorts first among objects of order 0, so its PID entry
	// wins on every node.
	targetName = "a-fanout-target"
	// baseSlice is the target's initial executionTime; change r sets
	// baseSlice+r. Fillers use 1,000,000+i, far below it.
	baseSlice = 7_000_000
	// maxServers is the most nodes one object may list (the CRD bounds
	// spec.nodes to 100 items); the target lists every server's node.
	maxServers = 100
)

// Options configures Run.
type Options struct {
	Servers    int           // bss-api processes, 1 to 100
	Strategies int           // ClusterSchedulingStrategy objects, at least 1
	Changes    int           // updates of the target object, at least 1
	Gap        time.Duration // pause between changes
	Timeout    time.Duration // per change, for every server to reflect it
	Ready      time.Duration // for every server to serve the initial objects
	// HolderWrites leaves the objects' first status to the Lease holder,
	// with every server running, instead of writing it before they start.
	HolderWrites bool
	Bin          string            // the bss-api binary (BuildServer)
	Dir          string            // for the servers' data directories and logs
	Kubeconfig   string            // the servers' credential for the API server
	Client       dynamic.Interface // creates and updates the objects
	APIServer    int               // the kube-apiserver's PID, for its CPU time
	Log          io.Writer         // progress; nil for none
}

// Result is what Run measured.
type Result struct {
	Servers, Strategies, Changes int
	Startup                      time.Duration // from the first start to all ready
	Settled                      time.Duration // from the first start to every status written
	// Latency holds, per server and change, the time from just before the
	// update request to that server's GET answering with the new value.
	Latency []time.Duration
	// AfterWrite is the same from the end of the update request (the
	// API server has stored the change): negative when a server saw it
	// before the client had the answer.
	AfterWrite        []time.Duration
	Update            []time.Duration // the update requests' own latency
	APIServerCPU      time.Duration   // kube-apiserver's CPU time during the changes
	ServersCPU        time.Duration   // all servers' CPU time during the changes
	IdleServersCPU    float64         // all servers' CPU, in cores, over 2 s before the changes
	Measured          time.Duration   // wall time of the changes
	RSS               []int64         // each server's VmRSS after the changes, bytes
	PID               int             // the PID the strategies target (this process)
	ObjectBytes       int             // JSON size of the target object as the API server returned it
	MeanObjectBytes   int             // mean JSON size of all objects once their status is written
	StartupAPIServerC time.Duration   // kube-apiserver's CPU time from the first start to all ready
}

func (o Options) check() error {
	switch {
	case o.Servers < 1 || o.Servers > maxServers:
		return fmt.Errorf("servers must be 1 to %d (one object lists every node), not %d", maxServers, o.Servers)
	case o.Strategies < 1:
		return fmt.Errorf("strategies must be at least 1, not %d", o.Strategies)
	case o.Changes < 1:
		return fmt.Errorf("changes must be at least 1, not %d", o.Changes)
	case o.Bin == "" || o.Dir == "" || o.Kubeconfig == "" || o.Client == nil:
		return errors.New("the options Bin, Dir, Kubeconfig and Client are required")
	}
	return nil
}

// Run creates the objects, starts the servers, changes the target object
// o.Changes times and measures when each server's GET reflects each
// change. It stops every server it started before it returns. The objects
// stay on the API server.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.check(); err != nil {
		return Result{}, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Ready <= 0 {
		o.Ready = 10 * time.Minute
	}
	res := Result{Servers: o.Servers, Strategies: o.Strategies, Changes: o.Changes, PID: os.Getpid()}
	nodes := make([]string, o.Servers)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("fanout-%03d", i)
	}
	objs := o.Client.Resource(v1alpha1.Cluster)
	target, err := createObjects(ctx, objs, nodes, o.Strategies, res.PID, !o.HolderWrites)
	if err != nil {
		return res, err
	}
	if b, err := target.MarshalJSON(); err == nil {
		res.ObjectBytes = len(b)
	}
	fmt.Fprintf(o.Log, "created %d ClusterSchedulingStrategy objects\n", o.Strategies)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()
	cpu0, _ := cpuTime(o.APIServer)
	start := time.Now()
	servers, err := startAll(ctx, o, nodes, hc)
	defer stopAll(servers, o.Log)
	if err != nil {
		return res, err
	}
	res.Startup = time.Since(start)
	fmt.Fprintf(o.Log, "%d servers ready in %s\n", o.Servers, res.Startup.Round(time.Millisecond))
	// The Lease holder then writes every object's status once; each
	// write is a watch event for every server. Measure after that.
	if res.MeanObjectBytes, err = waitSettled(ctx, objs, o.Ready); err != nil {
		return res, err
	}
	res.Settled = time.Since(start)
	if cpu1, err := cpuTime(o.APIServer); err == nil {
		res.StartupAPIServerC = cpu1 - cpu0
	}
	fmt.Fprintf(o.Log, "every object's status written %s after the first start\n", res.Settled.Round(time.Millisecond))

	if err := measure(ctx, o, servers, hc, &res); err != nil {
		return res, err
	}
	for _, s := range servers {
		if n, err := rss(s.cmd.Process.Pid); err == nil {
			res.RSS = append(res.RSS, n)
		}
	}
	return res, nil
}

// createObjects creates the target, a pid strategy for this process on
// every node, and strategies-1 fillers, each for this process on one node
// (round robin) after the target in precedence, so every server holds all
// objects and resolves about strategies/servers of them. With settle, it
// writes each object's status as the Lease holder would.
func createObjects(ctx context.Context, objs dynamic.NamespaceableResourceInterface, nodes []string, strategies, pid int, settle bool) (*unstructured.Unstructured, error) {
	target, err := objs.Create(ctx, clusterStrategy(targetName, 0, baseSlice, pid, nodes), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", targetName, err)
	}
	if settle {
		if target, err = accept(ctx, objs, target); err != nil {
			return nil, err
		}
	}
	for i := 1; i < strategies; i++ {
		name := fmt.Sprintf("fanout-filler-%05d", i)
		node := nodes[i%len(nodes)]
		u, err := objs.Create(ctx, clusterStrategy(name, 1, int64(1_000_000+i), pid, []string{node}), metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		if !settle {
			continue
		}
		if _, err := accept(ctx, objs, u); err != nil {
			return nil, err
		}
	}
	return target, nil
}

// accept writes the status the Lease holder would write for a valid
// object, so the servers start on settled objects: the holder's first
// pass then writes nothing, and the measurement sees one status write
// per change (a second watch event per server) and no backlog.
func accept(ctx context.Context, objs dynamic.NamespaceableResourceInterface, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gen := u.GetGeneration()
	u = u.DeepCopy()
	u.Object["status"] = map[string]any{
		"observedGeneration": gen,
		"conditions": []any{map[string]any{
			"type": v1alpha1.ConditionAccepted, "status": string(metav1.ConditionTrue), "reason": crd.ReasonValid,
			"message": "every server applies it", "observedGeneration": gen,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}},
	}
	out, err := objs.UpdateStatus(ctx, u, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", u.GetName(), err)
	}
	return out, nil
}

func clusterStrategy(name string, order, slice int64, pid int, nodes []string) *unstructured.Unstructured {
	ns := make([]any, len(nodes))
	for i, n := range nodes {
		ns[i] = n
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.KindCluster,
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"order": order, "priority": int64(1), "executionTime": slice, "pid": int64(pid), "nodes": ns,
		},
	}}
}

// waitSettled waits until the status of every object is written for its
// generation (status.observedGeneration), polling every second.
// It returns the objects' mean size as JSON.
func waitSettled(ctx context.Context, objs dynamic.NamespaceableResourceInterface, limit time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		list, err := objs.List(ctx, metav1.ListOptions{})
		pending := 0
		if err == nil {
			for _, o := range list.Items {
				g, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
				if g != o.GetGeneration() {
					pending++
				}
			}
			if pending == 0 {
				return meanSize(list.Items), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("status of %d objects not written (last error: %w): %w", pending, err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func meanSize(items []unstructured.Unstructured) int {
	total := 0
	for i := range items {
		if b, err := items[i].MarshalJSON(); err == nil {
			total += len(b)
		}
	}
	return total / max(1, len(items))
}

// sliceMark is how the target's executionTime appears in a GET answer.
func sliceMark(slice int64) string { return fmt.Sprintf(`"execution_time":%d`, slice) }

// startAll starts a server per node and waits until each serves the
// target's initial value. It returns the servers started, even on error.
func startAll(ctx context.Context, o Options, nodes []string, hc *http.Client) ([]*server, error) {
	servers := make([]*server, 0, len(nodes))
	port := 24000 + os.Getpid()%4000 // apart from a concurrent run's
	for _, node := range nodes {
		s, err := startServer(o.Bin, o.Dir, node, o.Kubeconfig, &port)
		if err != nil {
			return servers, err
		}
		servers = append(servers, s)
	}
	rctx, cancel := context.WithTimeout(ctx, o.Ready)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.waitBody(rctx, hc, strategiesPath, sliceMark(baseSlice)) })
	}
	wg.Wait()
	return servers, errors.Join(errs...)
}

func stopAll(servers []*server, log io.Writer) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.stop(); err != nil {
				fmt.Fprintf(log, "stop %s: %v\n", s.node, err)
			}
		})
	}
	wg.Wait()
}

// measure changes the target o.Changes times; for each change it waits
// until every server's watch has answered with the new value.
func measure(ctx context.Context, o Options, servers []*server, hc *http.Client, res *Result) error {
	timeout, gap := o.Timeout, o.Gap
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	w := newWatchers(len(servers), o.Changes)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i, s := range servers {
		wg.Go(func() { w.watch(wctx, hc, s, i) })
	}
	// Let every watcher hold its first request before the first change,
	// and take the servers' idle CPU meanwhile.
	idle0, idleStart := serversCPU(servers), time.Now()
	time.Sleep(2 * time.Second)
	res.IdleServersCPU = float64(serversCPU(servers)-idle0) / float64(time.Since(idleStart))
	objs := o.Client.Resource(v1alpha1.Cluster)
	cpu0, cerr := cpuTime(o.APIServer)
	srv0 := serversCPU(servers)
	begin := time.Now()
	for r := range o.Changes {
		// A merge patch, not an update: the status writer changes the
		// object's resourceVersion in between.
		patch := fmt.Appendf(nil, `{"spec":{"executionTime":%d}}`, baseSlice+1+r)
		t0 := time.Now()
		w.setStart(r, t0)
		w.round.Store(int64(r))
		if _, err := objs.Patch(ctx, targetName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("change %d: %w", r, err)
		}
		res.Update = append(res.Update, time.Since(t0))
		if err := w.waitAll(ctx, r, timeout); err != nil {
			return fmt.Errorf("change %d: %w", r, err)
		}
		time.Sleep(gap)
	}
	res.Measured = time.Since(begin)
	res.ServersCPU = serversCPU(servers) - srv0
	if cpu1, err := cpuTime(o.APIServer); err == nil && cerr == nil {
		res.APIServerCPU = cpu1 - cpu0
	}
	res.Latency, res.AfterWrite = w.latencies(res.Update)
	return nil
}

func readBody(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
