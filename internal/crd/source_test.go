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

// TestObjectsConvertEachVersionOnce checks the conversion cache: a new
// resourceVersion is converted again, and a deleted object is forgotten.
func TestObjectsConvertEachVersionOnce(t *testing.T) {
	s := New(Options{Client: listOnlyClient{}})
	store := s.cluster.GetStore()
	a, b := benchClusterObject(1), benchClusterObject(2)
	for _, o := range []*unstructured.Unstructured{a, b} {
		if err := store.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	execTimes := func() []uint64 {
		var out []uint64
		for _, o := range s.objects() {
			out = append(out, o.strategy.ExecutionTime)
		}
		return out
	}
	if got := execTimes(); fmt.Sprint(got) != "[1000001 1000002]" {
		t.Fatalf("first read: %v", got)
	}
	// The same resourceVersion is not converted again: a change made
	// behind the cache's back (never done by an informer) stays unseen.
	a2 := a.DeepCopy()
	if err := unstructured.SetNestedField(a2.Object, int64(7_000_000), "spec", "executionTime"); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(a2); err != nil {
		t.Fatal(err)
	}
	if got := execTimes(); fmt.Sprint(got) != "[1000001 1000002]" {
		t.Fatalf("same resourceVersion converted again: %v", got)
	}
	a2.SetResourceVersion("2")
	if err := store.Update(a2); err != nil {
		t.Fatal(err)
	}
	if got := execTimes(); fmt.Sprint(got) != "[7000000 1000002]" {
		t.Fatalf("after a new resourceVersion: %v", got)
	}
	if err := store.Delete(b); err != nil {
		t.Fatal(err)
	}
	if got := execTimes(); fmt.Sprint(got) != "[7000000]" || len(s.converted) != 1 {
		t.Fatalf("after a delete: %v, %d cached", got, len(s.converted))
	}
}
