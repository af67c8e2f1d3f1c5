package crd

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// leases is coordination.k8s.io/v1 leases.
var leases = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// ElectorOptions configure an Elector.
type ElectorOptions struct {
	Client          dynamic.Interface
	Namespace, Name string
	Identity        string // this server's: its node name
	// Duration is how long a holder that stops renewing keeps the Lease
	// (zero: 15 s); Retry how often the holder renews it (zero:
	// Duration/5); Check how often a server that does not hold it reads
	// it (zero: Duration/2, plus up to a tenth of jitter). Every node's
	// server is a candidate, so Check, not Retry, sets the load on the
	// API server: 5,000 nodes read it 667 times a second, from the API
	// server's watch cache.
	Duration, Retry, Check time.Duration
	Logger                 *slog.Logger
	Now                    func() time.Time
}

// Elector holds a coordination.k8s.io Lease among the servers of a
// cluster, as client-go's leaderelection does, on the dynamic client
// (leaderelection imports the whole clientset). A candidate takes the
// Lease over when its record has not changed for Duration by the
// candidate's own clock, so the servers' clocks need not agree. Every
// write is conditional on the resourceVersion read, so two candidates
// never both win. Safe for one Run.
type Elector struct {
	opts ElectorOptions
	log  *slog.Logger

	// Owned by Run's goroutine: the other holder's record as last seen,
	// and when it was first seen so.
	seen   map[string]any
	seenAt time.Time
}

// NewElector returns an elector; nothing is asked before Run.
func NewElector(opts ElectorOptions) *Elector {
	if opts.Duration <= 0 {
		opts.Duration = 15 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = opts.Duration / 5
	}
	if opts.Check <= 0 {
		opts.Check = opts.Duration / 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Elector{opts: opts, log: opts.Logger}
}

// Run campaigns for the Lease until ctx is cancelled. While it holds the
// Lease it runs lead, with a context cancelled as soon as it may have
// lost it (a renewal failed for longer than Duration/2, so lead stops
// before another server can take over), and waits for lead to return.
// On return it gives the Lease up, so another server takes over at its next
// check (within Check), not after Duration.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	var (
		stopLead  context.CancelFunc
		leading   sync.WaitGroup
		renewedAt time.Time
	)
	abdicate := func() {
		if stopLead != nil {
			stopLead()
			leading.Wait()
			stopLead = nil
		}
	}
	next := time.NewTimer(0)
	defer next.Stop()
	<-next.C
	for {
		// A try takes at most Retry, so a holder whose renewals hang
		// still steps down after Duration/2, before anyone can take over.
		tctx, cancelTry := context.WithTimeout(ctx, e.opts.Retry)
		held, err := e.try(tctx, stopLead != nil)
		cancelTry()
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("strategy status lease", "err", err)
		case held:
			renewedAt = e.opts.Now()
		}
		if held && stopLead == nil {
			e.log.Info("holding the strategy status lease: this server writes the custom resources' status", "lease", e.opts.Namespace+"/"+e.opts.Name)
			lctx, cancel := context.WithCancel(ctx)
			stopLead = cancel
			leading.Go(func() { lead(lctx) })
		}
		if !held && stopLead != nil && (err == nil || e.opts.Now().Sub(renewedAt) > e.opts.Duration/2) {
			e.log.Info("lost the strategy status lease")
			abdicate()
		}
		// A leader, even one whose renewal just failed, tries again at
		// Retry; only a server that does not lead waits Check.
		wait := e.opts.Retry
		if stopLead == nil {
			wait = e.opts.Check + rand.N(e.opts.Check/10+1)
		}
		next.Reset(wait)
		select {
		case <-ctx.Done():
			wasLeading := stopLead != nil
			abdicate()
			if wasLeading {
				e.release(context.WithoutCancel(ctx))
			}
			return nil
		case <-next.C:
		}
	}
}

// try takes or renews the Lease and reports whether this server holds it.
// A holder reads the Lease from etcd; a candidate from the API server's
// cache (resourceVersion 0), where a stale copy only makes its update
// conflict.
func (e *Elector) try(ctx context.Context, holding bool) (bool, error) {
	r := e.opts.Client.Resource(leases).Namespace(e.opts.Namespace)
	now := metav1.NewMicroTime(e.opts.Now())
	get := metav1.GetOptions{}
	if !holding {
		get.ResourceVersion = "0"
	}
	cur, err := r.Get(ctx, e.opts.Name, get)
	if apierrors.IsNotFound(err) {
		l := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": map[string]any{"name": e.opts.Name, "namespace": e.opts.Namespace},
		}}
		e.claim(l, now, 0)
		if _, err := r.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			return false, fmt.Errorf("create lease: %w", err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get lease: %w", err)
	}
	spec, _, _ := unstructured.NestedMap(cur.Object, "spec")
	holder, _, _ := unstructured.NestedString(spec, "holderIdentity")
	transitions, _, _ := unstructured.NestedInt64(spec, "leaseTransitions")
	if holder != e.opts.Identity && holder != "" {
		if !reflect.DeepEqual(spec, e.seen) {
			e.seen, e.seenAt = spec, e.opts.Now()
		}
		if e.opts.Now().Sub(e.seenAt) < e.opts.Duration {
			return false, nil
		}
		e.log.Info("taking over the strategy status lease from a holder that stopped renewing", "holder", holder)
	}
	if holder != e.opts.Identity {
		transitions++
	}
	e.claim(cur, now, transitions)
	if _, err := r.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("update lease: %w", err)
	}
	return true, nil
}

// claim writes this server into the Lease l, renewed at now.
func (e *Elector) claim(l *unstructured.Unstructured, now metav1.MicroTime, transitions int64) {
	spec, _, _ := unstructured.NestedMap(l.Object, "spec")
	if spec == nil {
		spec = map[string]any{}
	}
	if h, _ := spec["holderIdentity"].(string); h != e.opts.Identity {
		spec["acquireTime"] = now.UTC().Format(metav1.RFC3339Micro)
	}
	spec["holderIdentity"] = e.opts.Identity
	spec["renewTime"] = now.UTC().Format(metav1.RFC3339Micro)
	spec["leaseDurationSeconds"] = int64(max(1, e.opts.Duration/time.Second))
	spec["leaseTransitions"] = transitions
	l.Object["spec"] = spec
}

// release gives the Lease up, if this server still holds it.
func (e *Elector) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r := e.opts.Client.Resource(leases).Namespace(e.opts.Namespace)
	cur, err := r.Get(ctx, e.opts.Name, metav1.GetOptions{})
	if err != nil {
		return
	}
	if h, _, _ := unstructured.NestedString(cur.Object, "spec", "holderIdentity"); h != e.opts.Identity {
		return
	}
	_ = unstructured.SetNestedField(cur.Object, "", "spec", "holderIdentity")
	if _, err := r.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		e.log.Warn("give the strategy status lease up", "err", err)
	}
}
