package crd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// obj builds an object of kind with spec.
func obj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": kind,
		"metadata": map[string]any{"name": name}, "spec": spec,
	}}
	return u
}

// resourceOf returns the client of obj's kind (in ns when namespaced).
func resourceOf(dyn dynamic.Interface, u *unstructured.Unstructured, ns string) dynamic.ResourceInterface {
	if u.GetKind() == v1alpha1.KindCluster {
		return dyn.Resource(v1alpha1.Cluster)
	}
	return dyn.Resource(v1alpha1.Namespaced).Namespace(ns)
}

// createNamespace creates a fresh namespace.
func createNamespace(t *testing.T, cp *testenv.ControlPlane, name string) {
	t.Helper()
	if _, err := cp.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAPIServerValidates creates valid and invalid objects on a real API
// server with the CRDs installed: the valid are stored, each invalid one
// is refused with a message naming what is wrong.
func TestAPIServerValidates(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	dyn := crdtest.Install(t, cp.Config())
	createNamespace(t, cp, "team-a")
	sel := map[string]any{"matchLabels": map[string]any{"app": "web"}}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		want string // "" = accepted; else a part of the refusal
	}{
		{"namespaced minimal", obj(v1alpha1.KindNamespaced, "ok-min", map[string]any{"executionTime": int64(5_000_000)}), ""},
		{"namespaced full", obj(v1alpha1.KindNamespaced, "ok-full", map[string]any{
			"order": int64(-3), "priority": int64(20), "executionTime": int64(10_000_000_000), "threads": true,
			"commandRegex": "^nginx", "nodes": []any{"node-1", "n.example.com"},
			"podSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"a", "b"}}}},
		}), ""},
		{"cluster pid on nodes", obj(v1alpha1.KindCluster, "ok-pid", map[string]any{"executionTime": int64(1000), "pid": int64(42), "nodes": []any{"node-1"}}), ""},
		{"cluster by command", obj(v1alpha1.KindCluster, "ok-cmd", map[string]any{"executionTime": int64(1000), "commandRegex": "kubelet"}), ""},
		{"cluster namespaces", obj(v1alpha1.KindCluster, "ok-ns", map[string]any{"executionTime": int64(1000), "namespaces": []any{"a", "b"}, "podSelector": sel}), ""},

		{"no executionTime", obj(v1alpha1.KindNamespaced, "bad-1", map[string]any{"priority": int64(1)}), "spec.executionTime: Required value"},
		{"executionTime below 1µs", obj(v1alpha1.KindNamespaced, "bad-2", map[string]any{"executionTime": int64(999)}), "spec.executionTime: Invalid value: 999: spec.executionTime in body should be greater than or equal to 1000"},
		{"executionTime over 10s", obj(v1alpha1.KindNamespaced, "bad-3", map[string]any{"executionTime": int64(10_000_000_001)}), "should be less than or equal to 10000000000"},
		{"priority over 20", obj(v1alpha1.KindNamespaced, "bad-4", map[string]any{"executionTime": int64(1000), "priority": int64(21)}), "spec.priority: Invalid value: 21"},
		{"priority as bool", obj(v1alpha1.KindNamespaced, "bad-5", map[string]any{"executionTime": int64(1000), "priority": true}), "spec.priority in body must be of type int32"},
		{"regex too long", obj(v1alpha1.KindNamespaced, "bad-6", map[string]any{"executionTime": int64(1000), "commandRegex": strings.Repeat("a", 1025)}), "spec.commandRegex: Too long"},
		{"namespaced names namespaces", obj(v1alpha1.KindNamespaced, "bad-7", map[string]any{"executionTime": int64(1000), "namespaces": []any{"kube-system"}}), `unknown field "spec.namespaces"`},
		{"namespaced names a pid", obj(v1alpha1.KindNamespaced, "bad-8", map[string]any{"executionTime": int64(1000), "pid": int64(1)}), `unknown field "spec.pid"`},
		{"cluster targets nothing", obj(v1alpha1.KindCluster, "bad-9", map[string]any{"executionTime": int64(1000), "nodes": []any{"n"}}), "spec targets nothing"},
		{"cluster pid without nodes", obj(v1alpha1.KindCluster, "bad-10", map[string]any{"executionTime": int64(1000), "pid": int64(7)}), "spec.pid needs spec.nodes"},
		{"pid out of range", obj(v1alpha1.KindCluster, "bad-11", map[string]any{"executionTime": int64(1000), "pid": int64(4_194_305), "nodes": []any{"n"}}), "spec.pid: Invalid value: 4194305"},
		{"empty podSelector", obj(v1alpha1.KindCluster, "bad-12", map[string]any{"executionTime": int64(1000), "podSelector": map[string]any{}}), "podSelector must have matchLabels or matchExpressions"},
		{"In without values", obj(v1alpha1.KindNamespaced, "bad-13", map[string]any{"executionTime": int64(1000),
			"podSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "k", "operator": "In"}}}}), "values must be non-empty for In and NotIn"},
		{"bad operator", obj(v1alpha1.KindNamespaced, "bad-14", map[string]any{"executionTime": int64(1000),
			"podSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "k", "operator": "Like", "values": []any{"v"}}}}}), `Unsupported value: "Like"`},
		{"bad node name", obj(v1alpha1.KindNamespaced, "bad-15", map[string]any{"executionTime": int64(1000), "nodes": []any{"Node_1"}}), "spec.nodes[0]: Invalid value"},
		{"bad namespace name", obj(v1alpha1.KindCluster, "bad-16", map[string]any{"executionTime": int64(1000), "namespaces": []any{"a.b"}}), "spec.namespaces[0]: Invalid value"},
		{"duplicate nodes", obj(v1alpha1.KindNamespaced, "bad-17", map[string]any{"executionTime": int64(1000), "nodes": []any{"n", "n"}}), "spec.nodes[1]: Duplicate value"},
		{"empty regex", obj(v1alpha1.KindNamespaced, "bad-18", map[string]any{"executionTime": int64(1000), "commandRegex": ""}), "spec.commandRegex: Invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resourceOf(dyn, tc.obj, "team-a").Create(t.Context(), tc.obj, metav1.CreateOptions{FieldValidation: "Strict"})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted; want a refusal with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused with %q; want it to say %q", err, tc.want)
			}
		})
	}
}

// TestPrinterColumns asks for a table, as kubectl get does.
func TestPrinterColumns(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	dyn := crdtest.Install(t, cp.Config())
	o := obj(v1alpha1.KindCluster, "boost", map[string]any{"executionTime": int64(2000), "priority": int64(3), "pid": int64(9), "nodes": []any{"n1"}})
	if _, err := dyn.Resource(v1alpha1.Cluster).Create(t.Context(), o, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		res  schema.GroupVersionResource
		want []string
	}{
		{v1alpha1.Namespaced, []string{"Name", "Order", "Priority", "Slice-ns", "Command", "Accepted", "Age"}},
		{v1alpha1.Cluster, []string{"Name", "Order", "Priority", "Slice-ns", "PID", "Nodes", "Command", "Accepted", "Age"}},
	} {
		raw, err := cp.Client().CoreV1().RESTClient().Get().AbsPath("/apis", v1alpha1.Group, v1alpha1.Version, tc.res.Resource).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range table.ColumnDefinitions {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s columns %v, want %v", tc.res.Resource, got, tc.want)
		}
		if tc.res == v1alpha1.Cluster {
			if len(table.Rows) != 1 || fmt.Sprint(table.Rows[0].Cells[:5]) != "[boost 0 3 2000 9]" {
				t.Errorf("rows %v", table.Rows)
			}
		}
	}
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSourceFollowsObjects runs a Source against the API server: the
// strategies follow creations, updates and deletions, in precedence
// order, and a namespaced object is confined to its namespace.
func TestSourceFollowsObjects(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	dyn := crdtest.Install(t, cp.Config())
	createNamespace(t, cp, "team-a")
	src := New(Options{Client: dyn})
	if _, _, err := src.List(t.Context()); err == nil {
		t.Fatal("List before Run: want an error, not an empty list")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	changes, stop := src.SubscribeStrategies()
	defer stop()
	waitFor(t, "sync", src.Synced)

	names := func() []string {
		list, _, err := src.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.Name+"@"+strings.Join(s.Namespaces, ","))
		}
		return out
	}
	create := func(u *unstructured.Unstructured) {
		t.Helper()
		if _, err := resourceOf(dyn, u, "team-a").Create(t.Context(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(obj(v1alpha1.KindNamespaced, "web", map[string]any{"executionTime": int64(1000), "order": int64(1)}))
	create(obj(v1alpha1.KindCluster, "zz", map[string]any{"executionTime": int64(1000), "order": int64(1), "commandRegex": "x"}))
	create(obj(v1alpha1.KindCluster, "first", map[string]any{"executionTime": int64(1000), "order": int64(-5), "namespaces": []any{"b", "c"}}))
	want := []string{"first@b,c", "zz@", "team-a_web@team-a"}
	waitFor(t, "three strategies", func() bool { return slices.Equal(names(), want) })
	select {
	case <-changes:
	default:
		t.Error("no change notice")
	}

	if err := dyn.Resource(v1alpha1.Cluster).Delete(t.Context(), "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deletion", func() bool { return slices.Equal(names(), want[1:]) })

	list, _, _ := src.List(t.Context())
	if got := list[1]; got.ExecutionTime != 1000 || got.PID != 0 || got.LabelSelector != nil {
		t.Errorf("converted %+v", got)
	}
	if _, err := src.Replace(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "kubectl") {
		t.Errorf("Replace: %v, want a refusal naming kubectl", err)
	}
}

// TestExplainDocuments reads the OpenAPI v3 document kubectl explain
// reads: the API server publishes every field's description.
func TestExplainDocuments(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	crdtest.Install(t, cp.Config())
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
					Properties  map[string]struct {
						Description string `json:"description"`
					} `json:"properties"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	path := "/openapi/v3/apis/" + v1alpha1.Group + "/" + v1alpha1.Version
	waitFor(t, "the published schema", func() bool {
		raw, err := cp.Client().CoreV1().RESTClient().Get().AbsPath(path).DoRaw(t.Context())
		return err == nil && json.Unmarshal(raw, &doc) == nil && len(doc.Components.Schemas) > 0
	})
	for _, kind := range []string{v1alpha1.KindNamespaced, v1alpha1.KindCluster} {
		s, ok := doc.Components.Schemas["io.bss-api.scheduling.v1alpha1."+kind]
		if !ok {
			t.Fatalf("%s not published in %s", kind, path)
		}
		spec := s.Properties["spec"]
		if spec.Description == "" || len(spec.Properties) < 7 {
			t.Fatalf("%s spec: %+v", kind, spec)
		}
		for name, p := range spec.Properties {
			if p.Description == "" {
				t.Errorf("%s spec.%s: no description published", kind, name)
			}
		}
	}
}
