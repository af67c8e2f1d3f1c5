package crd

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
)

// listOnlyClient is enough to build a Source whose informers never run.
type listOnlyClient struct{ dynamic.Interface }

func (listOnlyClient) Resource(schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return nil
}

func benchClusterObject(i int) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       v1alpha1.KindCluster,
		"metadata": map[string]any{"name": fmt.Sprintf("s-%05d", i), "uid": fmt.Sprintf("uid-%d", i),
			"resourceVersion": "1", "generation": int64(1)},
		"spec": map[string]any{
			"order": int64(1), "priority": int64(1), "executionTime": int64(1_000_000 + i), "pid": int64(4242),
			"nodes": []any{fmt.Sprintf("node-%03d", i%100)},
		},
	}}
}

// BenchmarkObjects reads 1,000 cached ClusterSchedulingStrategies as the
// resolver does after each change of any one of them.
func BenchmarkObjects(b *testing.B) {
	s := New(Options{Client: listOnlyClient{}})
	for i := range 1000 {
		if err := s.cluster.GetStore().Add(benchClusterObject(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if n := len(s.objects()); n != 1000 {
			b.Fatalf("%d objects", n)
		}
	}
}

// TestObjectsConvertEachVersionOnce checks the conversion cache: an
// object is converted again at a new generation (a spec change), not at a
// new resourceVersion alone (the status writer's updates); one without
// generations at each resourceVersion; a deleted object is forgotten.
func TestObjectsConvertEachVersionOnce(t *testing.T) {
	s := New(Options{Client: listOnlyClient{}})
	store := s.cluster.GetStore()
	a, b := benchClusterObject(1), benchClusterObject(2)
	unstructured.RemoveNestedField(b.Object, "metadata", "generation")
	for _, o := range []*unstructured.Unstructured{a, b} {
		if err := store.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	execTimes := func() string {
		var out []uint64
		for _, o := range s.objects() {
			out = append(out, o.strategy.ExecutionTime)
		}
		return fmt.Sprint(out)
	}
	update := func(u *unstructured.Unstructured, slice int64, rv string, gen int64) {
		t.Helper()
		u = u.DeepCopy()
		if err := unstructured.SetNestedField(u.Object, slice, "spec", "executionTime"); err != nil {
			t.Fatal(err)
		}
		u.SetResourceVersion(rv)
		u.SetGeneration(gen)
		if err := store.Update(u); err != nil {
			t.Fatal(err)
		}
	}
	if got := execTimes(); got != "[1000001 1000002]" {
		t.Fatalf("first read: %v", got)
	}
	// A new resourceVersion at the same generation is a status update to
	// the API server, so the spec is taken as it was: the cache answers
	// (the changed executionTime, which no API server would send so, shows
	// that it was not converted again).
	update(a, 7_000_000, "2", 1)
	if got := execTimes(); got != "[1000001 1000002]" {
		t.Fatalf("converted again at the same generation: %v", got)
	}
	update(a, 7_000_000, "3", 2)
	update(b, 8_000_000, "2", 0)
	if got := execTimes(); got != "[7000000 8000000]" {
		t.Fatalf("after a new generation, and a new resourceVersion without generations: %v", got)
	}
	if err := store.Delete(b); err != nil {
		t.Fatal(err)
	}
	if got := execTimes(); got != "[7000000]" || len(s.converted) != 1 {
		t.Fatalf("after a delete: %v, %d cached", got, len(s.converted))
	}
}

// TestStatusAt: the status writer skips an object only when both the
// status and its Accepted condition name the current generation.
func TestStatusAt(t *testing.T) {
	status := func(observed, cond int64, condType string) *unstructured.Unstructured {
		u := benchClusterObject(1)
		u.Object["status"] = map[string]any{"observedGeneration": observed, "conditions": []any{
			map[string]any{"type": condType, "status": "True", "observedGeneration": cond},
		}}
		return u
	}
	for _, tt := range []struct {
		name string
		u    *unstructured.Unstructured
		want bool
	}{
		{"both at 3", status(3, 3, v1alpha1.ConditionAccepted), true},
		{"condition behind", status(3, 2, v1alpha1.ConditionAccepted), false},
		{"status behind", status(2, 3, v1alpha1.ConditionAccepted), false},
		{"no Accepted condition", status(3, 3, "Other"), false},
		{"no status", benchClusterObject(1), false},
	} {
		if got := statusAt(tt.u, 3); got != tt.want {
			t.Errorf("%s: statusAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}
