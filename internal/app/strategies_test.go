package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// schedulerClientView is exactly the struct a scheduler decodes.
type schedulerClientView struct {
	Success    bool   `json:"success"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestamp"`
	Scheduling []struct {
		Priority      bool   `json:"priority"`
		ExecutionTime uint64 `json:"execution_time"`
		PID           int    `json:"pid"`
	} `json:"scheduling"`
}

// verboseView adds what the test needs to name winners and timing.
type verboseView struct {
	ResolvedAt time.Time `json:"resolved_at"`
	Scheduling []struct {
		PID           int    `json:"pid"`
		Priority      bool   `json:"priority"`
		ExecutionTime uint64 `json:"execution_time"`
		Strategy      string `json:"strategy"`
		ThreadOf      int    `json:"thread_of"`
	} `json:"scheduling"`
}

// schedulerGet decodes GET strategies the way a scheduler does and checks
// what it relies on: an array (never null), unique PIDs, sorted.
func schedulerGet(t *testing.T, srv *testServer) schedulerClientView {
	t.Helper()
	res := srv.API.Get(t, "/api/v1/scheduling/strategies")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET strategies = %d %s", res.StatusCode, res.Body)
	}
	var v schedulerClientView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	if !v.Success || v.Scheduling == nil {
		t.Fatalf("scheduler would read %s", res.Body)
	}
	seen := map[int]bool{}
	for i, e := range v.Scheduling {
		if seen[e.PID] {
			t.Fatalf("PID %d appears twice", e.PID)
		}
		seen[e.PID] = true
		if i > 0 && v.Scheduling[i-1].PID > e.PID {
			t.Fatalf("not sorted by PID: %s", res.Body)
		}
	}
	return v
}

// winners renders the verbose answer as sorted "pid=strategy" lines.
func winners(t *testing.T, srv *testServer) ([]string, verboseView) {
	t.Helper()
	schedulerGet(t, srv)
	res := srv.API.Get(t, "/api/v1/scheduling/strategies?verbose=true")
	var v verboseView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(v.Scheduling))
	for i, e := range v.Scheduling {
		out[i] = fmt.Sprintf("%d=%s", e.PID, e.Strategy)
	}
	slices.Sort(out)
	return out, v
}

func waitWinners(t *testing.T, srv *testServer, want []string, what string) verboseView {
	t.Helper()
	slices.Sort(want)
	type seen struct {
		got []string
		v   verboseView
	}
	return poll(t, 20*time.Second, what, func() (seen, bool) {
		got, v := winners(t, srv)
		return seen{got, v}, slices.Equal(got, want)
	}).v
}

func postStrategies(t *testing.T, srv *testServer, body string) {
	t.Helper()
	res := srv.API.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(body))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST strategies = %d %s", res.StatusCode, res.Body)
	}
}

// TestStrategiesEndToEnd resolves strategies against a real API server and
// real processes in real cgroups, and follows the node as it changes.
func TestStrategiesEndToEnd(t *testing.T) {
	f := newKubeFixture(t)
	ctx := context.Background()
	nsCore, nsRAN := f.namespace("core"), f.namespace("ran")
	upf := f.pod(nsCore, "upf-0", f.node, map[string]string{"nf": "upf"}, "upf", "")
	smf := f.pod(nsCore, "smf-0", f.node, map[string]string{"nf": "smf", "app": "threaded"}, "smf", "")
	gnb := f.pod(nsRAN, "gnb-0", f.node, map[string]string{"nf": "gnb"}, "nr-gnb", "")
	other := f.pod(nsCore, "upf-1", "other-node", map[string]string{"nf": "upf"}, "upf", "")
	// More processes: a threaded smf worker, a ping next to nr-gnb.
	smfWorker := f.progs.Start("smf-worker", 2)
	f.tree.Move(smfWorker.PID, "kubepods/burstable/pod"+smf.uid+"/"+smf.app)
	ping := f.progs.Start("ping", 0)
	f.tree.Move(ping.PID, "kubepods/burstable/pod"+gnb.uid+"/"+gnb.app)

	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+f.cp.Kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot)
	waitKube(t, srv, upf.uid, wantKube(upf, map[string]string{"nf": "upf"}), 30*time.Second)

	// Compatibility: an empty store is [].
	if v := schedulerGet(t, srv); len(v.Scheduling) != 0 {
		t.Fatalf("empty store resolves to %v", v.Scheduling)
	}
	// PID-only strategies.
	gnbPID := gnb.procs[1].PID
	postStrategies(t, srv, fmt.Sprintf(`{"strategies":[{"priority":true,"execution_time":5000000,"pid":%d}]}`, gnbPID))
	if v := schedulerGet(t, srv); len(v.Scheduling) != 1 || v.Scheduling[0].PID != gnbPID || !v.Scheduling[0].Priority ||
		v.Scheduling[0].ExecutionTime != 5000000 {
		t.Fatalf("pid-only: %+v", v.Scheduling)
	}

	// The seed's examples plus every kind of condition and a conflict.
	tid := func(p *testenv.Process, i int) int { return threadIDs(t, p.PID)[i] }
	postStrategies(t, srv, fmt.Sprintf(`{"strategies":[
	  {"priority":true,"execution_time":20000000,"selectors":[{"key":"nf","value":"upf"}]},
	  {"priority":false,"execution_time":10000000,"pid":717720},
	  {"name":"ran","priority":true,"execution_time":3000000,"namespaces":[%q]},
	  {"name":"ping","priority":false,"execution_time":1000000,"command_regex":"^ping$"},
	  {"name":"smf","priority":true,"execution_time":4000000,"threads":true,
	   "label_selector":{"matchLabels":{"app":"threaded"},"matchExpressions":[{"key":"nf","operator":"In","values":["smf","amf"]}]}},
	  {"name":"gnb-pid","priority":false,"execution_time":2000000,"pid":%d}
	]}`, nsRAN, gnbPID))
	want := []string{
		fmt.Sprintf("%d=strategy-1", upf.procs[1].PID), // seed selector: upf's app, never its pause
		fmt.Sprintf("%d=gnb-pid", gnbPID),              // explicit pid beats the earlier namespace strategy
		fmt.Sprintf("%d=ran", ping.PID),                // namespaces first, command_regex later: first wins
		fmt.Sprintf("%d=smf", smf.procs[1].PID),        // label_selector
		fmt.Sprintf("%d=smf", smfWorker.PID),
		fmt.Sprintf("%d=smf", tid(smfWorker, 1)), // and its threads
		fmt.Sprintf("%d=smf", tid(smfWorker, 2)),
	}
	_ = other // its cgroups are here, but it is another node's pod: no metadata, no match
	waitWinners(t, srv, want, "the first resolution")
	explain := srv.API.Get(t, "/api/v1/scheduling/strategies/explain")
	if !strings.Contains(string(explain.Body), `"matched":["ran","ping"],"winner":"ran"`) {
		t.Errorf("explain does not show ping matched by ran and ping, won by ran: %s", explain.Body)
	}

	// Relabel: upf leaves the seed selector within 5 s.
	changed := time.Now()
	patch := []byte(`{"metadata":{"labels":{"nf":"upf-retired"}}}`)
	if _, err := f.client.CoreV1().Pods(nsCore).Patch(ctx, upf.name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(s string) bool { return strings.HasSuffix(s, "=strategy-1") })
	logLag(t, "relabel", waitWinners(t, srv, want, "a relabel").ResolvedAt, changed)

	// A process exits: gone within 1 s.
	changed = time.Now()
	ping.Kill()
	want = slices.DeleteFunc(want, func(s string) bool { return strings.HasPrefix(s, fmt.Sprintf("%d=", ping.PID)) })
	logLag(t, "process exit", waitWinners(t, srv, want, "an exit").ResolvedAt, changed)

	// A new process starts in the RAN pod: targeted within 1 s.
	fresh := f.progs.Start("nr-ue", 0)
	changed = time.Now()
	f.tree.Move(fresh.PID, "kubepods/burstable/pod"+gnb.uid+"/"+gnb.app)
	want = append(want, fmt.Sprintf("%d=ran", fresh.PID))
	logLag(t, "new process", waitWinners(t, srv, want, "a new process").ResolvedAt, changed)

	// The pod is deleted: its processes stop and its cgroups go, as the
	// kubelet does it.
	zero := int64(0)
	if err := f.client.CoreV1().Pods(nsRAN).Delete(ctx, gnb.name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	changed = time.Now()
	for _, p := range append(gnb.procs, fresh) {
		p.Kill()
	}
	f.tree.Rmdir("kubepods/burstable/pod" + gnb.uid + "/" + gnb.app)
	f.tree.Rmdir("kubepods/burstable/pod" + gnb.uid + "/" + gnb.sandbox)
	f.tree.Rmdir("kubepods/burstable/pod" + gnb.uid)
	want = slices.DeleteFunc(want, func(s string) bool { return strings.HasSuffix(s, "=ran") || strings.HasSuffix(s, "=gnb-pid") })
	logLag(t, "pod deletion", waitWinners(t, srv, want, "a deleted pod").ResolvedAt, changed)
	if v := schedulerGet(t, srv); len(v.Scheduling) != len(want) {
		t.Errorf("after the pod deletion the scheduler reads %d entries, want %d", len(v.Scheduling), len(want))
	}
}

// threadIDs lists the TIDs of pid, ascending, the main thread first.
func threadIDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := osReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscan(e, &n); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func osReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
