package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
)

// applyStrategy creates a strategy object, as kubectl apply of a new one
// does; ns "" makes a ClusterSchedulingStrategy.
func applyStrategy(t *testing.T, dyn dynamic.Interface, ns, name string, spec map[string]any) {
	t.Helper()
	kind, res := v1alpha1.KindCluster, dyn.Resource(v1alpha1.Cluster)
	var ri dynamic.ResourceInterface = res
	if ns != "" {
		kind, ri = v1alpha1.KindNamespaced, dyn.Resource(v1alpha1.Namespaced).Namespace(ns)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": kind,
		"metadata": map[string]any{"name": name}, "spec": spec,
	}}
	if _, err := ri.Create(t.Context(), u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatalf("create %s %s/%s: %v", kind, ns, name, err)
	}
}

// TestStrategiesFromCustomResources runs the server with
// --strategy-source=kubernetes against a real API server, real cgroups and
// processes: objects created and deleted there show in GET strategies; a
// namespaced object reaches no pod of another namespace; writes through
// the HTTP API are refused, pointing to kubectl; preview, explain and
// GET definitions keep working.
func TestStrategiesFromCustomResources(t *testing.T) {
	f := newKubeFixture(t)
	dyn := crdtest.Install(t, f.cp.Config())
	nsA, nsB := f.namespace("crd-a"), f.namespace("crd-b")
	upf := f.pod(nsA, "upf-0", f.node, map[string]string{"nf": "upf"}, "upf", "")
	// Same label, another namespace: a team's object in nsA must not
	// reach it, by label or by command.
	rival := f.pod(nsB, "upf-0", f.node, map[string]string{"nf": "upf"}, "rival-upf", "")
	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+f.cp.Kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot, "--strategy-source=kubernetes")
	upfPID, rivalPID := upf.procs[1].PID, rival.procs[1].PID
	own := nsA + "_boost"

	applyStrategy(t, dyn, nsA, "boost", map[string]any{
		"executionTime": int64(2_000_000), "priority": int64(3),
		"podSelector": map[string]any{"matchLabels": map[string]any{"nf": "upf"}},
	})
	applyStrategy(t, dyn, nsA, "reach-out", map[string]any{"executionTime": int64(3_000_000), "commandRegex": "rival"})
	waitWinners(t, srv, []string{strconv.Itoa(upfPID) + "=" + own}, "the namespaced object, in its namespace only")

	// A cluster object may target a PID on named nodes; it wins.
	applyStrategy(t, dyn, "", "pin-rival", map[string]any{
		"executionTime": int64(4_000_000), "pid": int64(rivalPID), "nodes": []any{f.node},
	})
	waitWinners(t, srv, []string{strconv.Itoa(upfPID) + "=" + own, strconv.Itoa(rivalPID) + "=pin-rival"}, "the cluster object")

	t.Run("definitions list the objects in precedence order", func(t *testing.T) {
		res := srv.API.Get(t, "/api/v1/scheduling/strategies/definitions")
		var body struct {
			Strategies []struct {
				Name       string   `json:"name"`
				Namespaces []string `json:"namespaces"`
			} `json:"strategies"`
		}
		if err := json.Unmarshal(res.Body, &body); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET definitions = %d %s (%v)", res.StatusCode, res.Body, err)
		}
		var got []string
		for _, s := range body.Strategies {
			got = append(got, s.Name+"@"+strings.Join(s.Namespaces, ","))
		}
		want := []string{"pin-rival@", own + "@" + nsA, nsA + "_reach-out@" + nsA}
		if !slices.Equal(got, want) {
			t.Errorf("definitions %v, want %v", got, want)
		}
	})

	t.Run("the lease holder writes the Accepted condition", func(t *testing.T) {
		applyStrategy(t, dyn, nsA, "bad-regex", map[string]any{"executionTime": int64(1000), "commandRegex": "(upf"})
		for name, want := range map[string]string{"boost": "True", "bad-regex": "False"} {
			poll(t, 20*time.Second, name+" Accepted="+want, func() (string, bool) {
				u, err := dyn.Resource(v1alpha1.Namespaced).Namespace(nsA).Get(t.Context(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
				for _, c := range conds {
					if m, _ := c.(map[string]any); m["type"] == v1alpha1.ConditionAccepted && m["status"] == want {
						return fmt.Sprint(m), true
					}
				}
				return fmt.Sprint(conds), false
			})
		}
		// Not applied: the winners are unchanged.
		waitWinners(t, srv, []string{strconv.Itoa(upfPID) + "=" + own, strconv.Itoa(rivalPID) + "=pin-rival"}, "the invalid object skipped")
		if err := dyn.Resource(v1alpha1.Namespaced).Namespace(nsA).Delete(t.Context(), "bad-regex", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("writes are refused, pointing to kubectl", func(t *testing.T) {
		for _, req := range []*http.Request{
			srv.API.NewRequest(t, http.MethodPost, "/api/v1/scheduling/strategies", "application/json",
				[]byte(`{"strategies":[{"priority":true,"execution_time":1000,"pid":1}]}`)),
			srv.API.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/x", "application/json",
				[]byte(`{"priority":true,"execution_time":1000,"pid":1}`)),
			srv.API.NewRequest(t, http.MethodDelete, "/api/v1/scheduling/strategies/definitions/"+own, "", nil),
		} {
			res := srv.API.Do(t, req)
			if res.StatusCode != http.StatusConflict || !strings.Contains(string(res.Body), "kubectl") {
				t.Errorf("%s %s = %d %s, want 409 naming kubectl", req.Method, req.URL.Path, res.StatusCode, res.Body)
			}
		}
	})

	t.Run("preview and explain keep working", func(t *testing.T) {
		res := srv.API.Post(t, "/api/v1/scheduling/strategies/preview", "application/json",
			[]byte(`{"strategies":[{"priority":true,"execution_time":1000,"command_regex":"^upf"}]}`))
		if res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), strconv.Itoa(upfPID)) {
			t.Errorf("preview = %d %s", res.StatusCode, res.Body)
		}
		res = srv.API.Get(t, "/api/v1/scheduling/strategies/explain")
		if res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), "pin-rival") {
			t.Errorf("explain = %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("an API server restart loses no entry", func(t *testing.T) {
		f.cp.StopAPIServer()
		// Served from the caches meanwhile.
		waitWinners(t, srv, []string{strconv.Itoa(upfPID) + "=" + own, strconv.Itoa(rivalPID) + "=pin-rival"}, "entries with the API server down")
		f.cp.StartAPIServer()
		applyStrategy(t, dyn, nsA, "after-restart", map[string]any{"order": int64(-1), "executionTime": int64(1000), "commandRegex": "^upf"})
		waitWinners(t, srv, []string{strconv.Itoa(upfPID) + "=" + nsA + "_after-restart", strconv.Itoa(rivalPID) + "=pin-rival"}, "a change after the restart")
		if err := dyn.Resource(v1alpha1.Namespaced).Namespace(nsA).Delete(t.Context(), "after-restart", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	// Deleting the objects takes their entries away.
	if err := dyn.Resource(v1alpha1.Namespaced).Namespace(nsA).Delete(t.Context(), "boost", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWinners(t, srv, []string{strconv.Itoa(rivalPID) + "=pin-rival"}, "the namespaced object deleted")
	if err := dyn.Resource(v1alpha1.Cluster).Delete(t.Context(), "pin-rival", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWinners(t, srv, []string{}, "every object deleted")
}
