// Package v1alpha1 holds the Go types of the scheduling.bss-api.io/v1alpha1
// custom resources: SchedulingStrategy (namespaced) and
// ClusterSchedulingStrategy (cluster-scoped). Their CRDs, with the OpenAPI
// schema and CEL rules the API server validates them with, are the YAML
// files in charts/bss-api/crds/; a test holds the two to the same field
// names.
//
// The package is internal: the server decodes these objects, and users
// write YAML. A v1alpha1 API promises no Go compatibility, so nothing
// outside the module should import it yet.
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and Version of the API; the resources follow.
const (
	Group   = "scheduling.bss-api.io"
	Version = "v1alpha1"

	KindNamespaced = "SchedulingStrategy"
	KindCluster    = "ClusterSchedulingStrategy"
)

// GroupVersion is scheduling.bss-api.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// The resources of the two kinds.
var (
	Namespaced = GroupVersion.WithResource("schedulingstrategies")
	Cluster    = GroupVersion.WithResource("clusterschedulingstrategies")
)

// StrategySpec is what both kinds share. Every targeting condition given
// must hold (AND).
type StrategySpec struct {
	// Order sets precedence across objects: lower first, then
	// cluster-scoped before namespaced, then by namespace and name.
	Order int32 `json:"order,omitempty"`
	// Priority is the priority level, 0 (no boost) to 20.
	Priority int32 `json:"priority,omitempty"`
	// ExecutionTime is the time slice in nanoseconds, 1µs to 10s.
	ExecutionTime int64 `json:"executionTime"`
	// PodSelector selects pods by label.
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
	// CommandRegex matches the process's command line (RE2).
	CommandRegex string `json:"commandRegex,omitempty"`
	// Threads also targets every thread of each matched process.
	Threads bool `json:"threads,omitempty"`
	// Nodes limits the strategy to the servers of these nodes.
	Nodes []string `json:"nodes,omitempty"`
}

// ClusterStrategySpec adds what only a cluster administrator may target:
// pods of any namespace, and a process by PID.
type ClusterStrategySpec struct {
	StrategySpec `json:",inline"`
	// Namespaces limits the pods to these namespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// PID targets one process; the API server requires nodes with it.
	PID int32 `json:"pid,omitempty"`
}

// StrategyStatus is written by the one server holding the status Lease.
type StrategyStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Accepted, false with a reason when the servers cannot
	// apply the object.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SchedulingStrategy is a strategy that targets pods of its own namespace
// only.
type SchedulingStrategy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              StrategySpec   `json:"spec"`
	Status            StrategyStatus `json:"status,omitempty"`
}

// ClusterSchedulingStrategy is a strategy of the whole cluster.
type ClusterSchedulingStrategy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ClusterStrategySpec `json:"spec"`
	Status            StrategyStatus      `json:"status,omitempty"`
}

// ConditionAccepted is the condition type the status writer sets.
const ConditionAccepted = "Accepted"

// DeepCopy returns a copy of s sharing nothing with it.
func (s *StrategyStatus) DeepCopy() *StrategyStatus {
	out := &StrategyStatus{ObservedGeneration: s.ObservedGeneration}
	for _, c := range s.Conditions {
		out.Conditions = append(out.Conditions, *c.DeepCopy())
	}
	return out
}
