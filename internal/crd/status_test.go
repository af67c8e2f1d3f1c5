package crd

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// statusServer is the status part of one server: its own source, and an
// elector that runs a status writer while it holds the Lease.
type statusServer struct {
	leading atomic.Int32 // how many times it started leading
	stop    func()
}

func startStatusServer(t *testing.T, dyn dynamic.Interface, identity string) *statusServer {
	t.Helper()
	return startStatusServerIn(t, dyn, "default", identity)
}

// startStatusServerIn is startStatusServer with the Lease in namespace ns.
func startStatusServerIn(t *testing.T, dyn dynamic.Interface, ns, identity string) *statusServer {
	t.Helper()
	src := New(Options{Client: dyn})
	el := NewElector(ElectorOptions{Client: dyn, Namespace: ns, Name: "bss-api-strategy-status", Identity: identity, Duration: 2 * time.Second})
	w := NewStatusWriter(StatusOptions{Source: src, Client: dyn})
	ctx, cancel := context.WithCancel(t.Context())
	s := &statusServer{}
	done := make(chan struct{}, 2)
	go func() { _ = src.Run(ctx); done <- struct{}{} }()
	go func() {
		_ = el.Run(ctx, func(ctx context.Context) { s.leading.Add(1); w.Lead(ctx) })
		done <- struct{}{}
	}()
	stopped := false
	s.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			<-done
		}
	}
	t.Cleanup(s.stop)
	return s
}

func leaseHolder(t *testing.T, dyn dynamic.Interface) string {
	t.Helper()
	return leaseHolderIn(t, dyn, "default")
}

func leaseHolderIn(t *testing.T, dyn dynamic.Interface, ns string) string {
	t.Helper()
	l, err := dyn.Resource(leases).Namespace(ns).Get(t.Context(), "bss-api-strategy-status", metav1.GetOptions{})
	if err != nil {
		return ""
	}
	h, _, _ := unstructured.NestedString(l.Object, "spec", "holderIdentity")
	return h
}

// accepted returns the Accepted condition and observedGeneration of a
// cluster object.
func accepted(t *testing.T, dyn dynamic.Interface, name string) (*metav1.Condition, int64, int64) {
	t.Helper()
	u, err := dyn.Resource(v1alpha1.Cluster).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st v1alpha1.StrategyStatus
	if raw, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			t.Fatal(err)
		}
	}
	return meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionAccepted), st.ObservedGeneration, u.GetGeneration()
}

// waitAccepted waits until name's status describes its generation with
// Accepted status want, and returns the condition.
func waitAccepted(t *testing.T, dyn dynamic.Interface, name string, want metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	waitFor(t, name+" Accepted="+string(want), func() bool {
		c, observed, gen := accepted(t, dyn, name)
		if c == nil || observed != gen || c.ObservedGeneration != gen {
			return false
		}
		got = *c
		return c.Status == want
	})
	return got
}

// TestLeaseHolderWritesStatus runs two servers' status parts: only the
// Lease holder writes conditions, including the RE2 error the API
// server's CEL cannot catch; when it stops, the other takes over; and a
// holder that stops renewing without giving the Lease up is replaced.
func TestLeaseHolderWritesStatus(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	dyn := crdtest.Install(t, cp.Config())

	// A holder that crashed: its record never changes again.
	ghost := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": "bss-api-strategy-status", "namespace": "default"},
		"spec": map[string]any{"holderIdentity": "node-gone", "leaseDurationSeconds": int64(2),
			"renewTime": metav1.NewMicroTime(time.Now()).UTC().Format(metav1.RFC3339Micro)},
	}}
	if _, err := dyn.Resource(leases).Namespace("default").Create(t.Context(), ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := startStatusServer(t, dyn, "node-a")
	waitFor(t, "node-a to take the lease over from a holder that stopped", func() bool { return leaseHolder(t, dyn) == "node-a" })
	b := startStatusServer(t, dyn, "node-b")

	create := func(name string, spec map[string]any) {
		t.Helper()
		if _, err := dyn.Resource(v1alpha1.Cluster).Create(t.Context(), obj(v1alpha1.KindCluster, name, spec), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("good", map[string]any{"executionTime": int64(1000), "commandRegex": "^nginx"})
	create("bad-regex", map[string]any{"executionTime": int64(1000), "commandRegex": "(unclosed"})
	if c := waitAccepted(t, dyn, "good", metav1.ConditionTrue); c.Reason != ReasonValid {
		t.Errorf("good: %+v", c)
	}
	c := waitAccepted(t, dyn, "bad-regex", metav1.ConditionFalse)
	if c.Reason != ReasonInvalid || !strings.Contains(c.Message, "missing closing )") {
		t.Errorf("bad-regex: %+v, want reason %s naming the RE2 error", c, ReasonInvalid)
	}

	// A spec change: the condition follows the new generation.
	patch := []byte(`{"spec":{"commandRegex":"fixed"}}`)
	if _, err := dyn.Resource(v1alpha1.Cluster).Patch(t.Context(), "bad-regex", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAccepted(t, dyn, "bad-regex", metav1.ConditionTrue)
	if n := b.leading.Load(); n != 0 {
		t.Fatalf("node-b led %d times while node-a held the lease", n)
	}

	a.stop()
	waitFor(t, "node-b to take over", func() bool { return leaseHolder(t, dyn) == "node-b" })
	create("after", map[string]any{"executionTime": int64(1000), "commandRegex": "a{2000}"})
	if c := waitAccepted(t, dyn, "after", metav1.ConditionFalse); !strings.Contains(c.Message, "invalid repeat count") {
		t.Errorf("after: %+v", c)
	}
	if b.leading.Load() != 1 {
		t.Errorf("node-b led %d times, want 1", b.leading.Load())
	}
}
