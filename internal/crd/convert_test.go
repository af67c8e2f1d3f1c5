package crd

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/strategy"
)

// TestPrecedence: order, then cluster-scoped first, then namespace and
// name.
func TestPrecedence(t *testing.T) {
	objs := []object{
		{order: 0, namespace: "b", name: "a"},
		{order: 0, namespace: "a", name: "z"},
		{order: 0, cluster: true, name: "zz"},
		{order: -1, namespace: "z", name: "z"},
		{order: 0, namespace: "a", name: "b"},
		{order: 0, cluster: true, name: "aa"},
	}
	sortObjects(objs)
	var got []string
	for _, o := range objs {
		got = append(got, StrategyName(o.namespace, o.name))
	}
	if want := []string{"z_z", "aa", "zz", "a_b", "a_z", "b_a"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestConvert: a namespaced object is confined to its namespace, and the
// fields map onto a strategy the HTTP API's validation accepts.
func TestConvert(t *testing.T) {
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.KindNamespaced,
		"metadata": map[string]any{"name": "web", "namespace": "team"},
		"spec": map[string]any{"executionTime": int64(5000), "priority": int64(4), "threads": true, "commandRegex": "^w",
			"nodes": []any{"n1"}, "podSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}}},
	}}
	o, err := fromNamespaced(ns)
	if err != nil {
		t.Fatal(err)
	}
	st := o.strategy
	if st.Name != "team_web" || !slices.Equal(st.Namespaces, []string{"team"}) || st.ExecutionTime != 5000 ||
		st.Priority != strategy.LevelPriority(4) || !st.Threads || st.CommandRegex != "^w" || !slices.Equal(st.Nodes, []string{"n1"}) ||
		st.LabelSelector == nil || st.LabelSelector.MatchLabels["app"] != "web" || st.PID != 0 {
		t.Errorf("converted %+v", st)
	}
	cl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.KindCluster,
		"metadata": map[string]any{"name": "pin"},
		"spec":     map[string]any{"executionTime": int64(1000), "pid": int64(77), "nodes": []any{"n1"}, "namespaces": []any{"x"}},
	}}
	if o, err = fromCluster(cl); err != nil {
		t.Fatal(err)
	}
	if st := o.strategy; st.Name != "pin" || st.PID != 77 || !slices.Equal(st.Namespaces, []string{"x"}) || !o.cluster {
		t.Errorf("converted %+v", st)
	}
	if _, err := strategy.Normalize([]strategy.Strategy{o.strategy, st}, strategy.Limits{}); err != nil {
		t.Errorf("the HTTP API's validation refuses them: %v", err)
	}
}
