// Package crd serves strategies from the scheduling.bss-api.io custom
// resources (internal/crd/v1alpha1) instead of the store: Source watches
// both kinds with one informer each and reads as a strategy.Store whose
// writes are refused, so the resolver and the service work on it
// unchanged.
package crd

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/strategy"
)

// object is one custom resource as the resolver needs it: where it sorts
// and what it means.
type object struct {
	order     int32
	cluster   bool
	namespace string
	name      string
	strategy  strategy.Strategy
}

// StrategyName is the name a strategy of an object carries in GET
// definitions, explain and preview: the object's name for a
// ClusterSchedulingStrategy, "<namespace>_<name>" for a SchedulingStrategy.
// Kubernetes names never hold '_', so the two never collide.
func StrategyName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "_" + name
}

// fromNamespaced converts a SchedulingStrategy: its pods are those of its
// own namespace, whatever it says.
func fromNamespaced(u *unstructured.Unstructured) (object, error) {
	var s v1alpha1.SchedulingStrategy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
		return object{}, fmt.Errorf("%s %s/%s: %w", v1alpha1.KindNamespaced, u.GetNamespace(), u.GetName(), err)
	}
	st := fromSpec(s.Spec)
	st.Name = StrategyName(s.Namespace, s.Name)
	st.Namespaces = []string{s.Namespace}
	return object{order: s.Spec.Order, namespace: s.Namespace, name: s.Name, strategy: st}, nil
}

// fromCluster converts a ClusterSchedulingStrategy.
func fromCluster(u *unstructured.Unstructured) (object, error) {
	var s v1alpha1.ClusterSchedulingStrategy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
		return object{}, fmt.Errorf("%s %s: %w", v1alpha1.KindCluster, u.GetName(), err)
	}
	st := fromSpec(s.Spec.StrategySpec)
	st.Name = StrategyName("", s.Name)
	st.Namespaces = slices.Clone(s.Spec.Namespaces)
	if s.Spec.PID > 0 {
		st.PID = uint32(s.Spec.PID)
	}
	return object{order: s.Spec.Order, cluster: true, name: s.Name, strategy: st}, nil
}

// fromSpec converts the fields both kinds share. Values the API server's
// schema keeps in range are passed on as they are; the resolver's checks
// skip, and report, whatever is still wrong.
func fromSpec(sp v1alpha1.StrategySpec) strategy.Strategy {
	st := strategy.Strategy{
		Priority:     strategy.LevelPriority(int(sp.Priority)),
		CommandRegex: sp.CommandRegex,
		Threads:      sp.Threads,
		Nodes:        slices.Clone(sp.Nodes),
	}
	if sp.ExecutionTime > 0 {
		st.ExecutionTime = uint64(sp.ExecutionTime)
	}
	if sp.PodSelector != nil {
		st.LabelSelector = sp.PodSelector.DeepCopy()
	}
	return st
}

// sortObjects puts objs in precedence order: order, then cluster-scoped
// before namespaced, then namespace and name.
func sortObjects(objs []object) {
	slices.SortFunc(objs, func(a, b object) int { return compareObjects(&a, &b) })
}

func compareObjects(a, b *object) int {
	if c := cmp.Compare(a.order, b.order); c != 0 {
		return c
	}
	if a.cluster != b.cluster {
		if a.cluster {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}
