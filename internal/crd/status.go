package crd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Reasons of the Accepted condition.
const (
	ReasonValid   = "Valid"
	ReasonInvalid = "Invalid" // the message says which rule: an RE2 error, a limit
)

// StatusOptions configure a StatusWriter.
type StatusOptions struct {
	Source *Source
	Client dynamic.Interface
	// Limits are the servers' (--max-…): an object that breaks them is
	// not applied, and its condition says so.
	Limits strategy.Limits
	Logger *slog.Logger
	Now    func() time.Time
}

// StatusWriter writes status.observedGeneration and the Accepted
// condition of every object that needs it. Run it only while holding the
// Lease (Elector), so one server per cluster writes, never one per node.
type StatusWriter struct {
	opts StatusOptions
	log  *slog.Logger
}

// NewStatusWriter returns a writer over opts.Source's caches.
func NewStatusWriter(opts StatusOptions) *StatusWriter {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &StatusWriter{opts: opts, log: opts.Logger}
}

// retryStatus is how long the writer waits after a failed pass.
const retryStatus = time.Second

// Lead writes statuses until ctx is cancelled: once the caches are
// synced, then after every change of the objects. A pass that fails
// (a conflict with a change in flight, the API server away) is retried.
func (w *StatusWriter) Lead(ctx context.Context) {
	// The generation of each object whose status this leadership has
	// found or made right: later passes skip it until its spec changes,
	// so a change to one object costs a pass one object's checks.
	done := map[types.UID]int64{}
	changes, stop := w.opts.Source.SubscribeStrategies()
	defer stop()
	batch := notify.NewBatch()
	defer batch.Stop()
	batch.Arm(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			batch.Arm(50 * time.Millisecond)
		case <-batch.C():
			batch.Fired()
			if err := w.pass(ctx, done); err != nil && ctx.Err() == nil {
				w.log.Warn("write strategy status", "err", err)
				batch.Arm(retryStatus)
			}
		}
	}
}

// pass brings the status of every cached object up to date, skipping
// those done holds at their current generation, and records in done
// those it leaves right (and only cached ones).
func (w *StatusWriter) pass(ctx context.Context, done map[types.UID]int64) error {
	src := w.opts.Source
	if !src.Synced() {
		return errNotSynced
	}
	seen := make(map[types.UID]bool, len(done))
	var errs []error
	for _, kind := range []struct {
		inf  cache.SharedIndexInformer
		res  dynamic.NamespaceableResourceInterface
		conv func(*unstructured.Unstructured) (object, error)
	}{
		{src.namespaced, w.opts.Client.Resource(v1alpha1.Namespaced), fromNamespaced},
		{src.cluster, w.opts.Client.Resource(v1alpha1.Cluster), fromCluster},
	} {
		for _, item := range kind.inf.GetStore().List() {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			uid, gen := u.GetUID(), u.GetGeneration()
			seen[uid] = true
			// Checked at this generation, and the status still says so
			// (nobody cleared or rewrote it since).
			if uid != "" && gen > 0 && done[uid] == gen && statusAt(u, gen) {
				continue
			}
			if err := w.update(ctx, kind.res, u, kind.conv); err != nil {
				errs = append(errs, err)
				continue
			}
			if uid != "" {
				done[uid] = gen
			}
		}
	}
	maps.DeleteFunc(done, func(uid types.UID, _ int64) bool { return !seen[uid] })
	return errors.Join(errs...)
}

// statusAt reports whether u's status and its Accepted condition both say
// generation gen.
func statusAt(u *unstructured.Unstructured, gen int64) bool {
	if observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); observed != gen {
		return false
	}
	conds, _, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "conditions")
	list, _ := conds.([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m["type"] == v1alpha1.ConditionAccepted {
			g, _ := m["observedGeneration"].(int64)
			return g == gen
		}
	}
	return false
}

// update writes u's status when it does not say what Accepted would.
func (w *StatusWriter) update(ctx context.Context, res dynamic.NamespaceableResourceInterface, u *unstructured.Unstructured,
	conv func(*unstructured.Unstructured) (object, error)) error {
	cond := metav1.Condition{Type: v1alpha1.ConditionAccepted, Status: metav1.ConditionTrue, Reason: ReasonValid,
		Message: "every server applies it", ObservedGeneration: u.GetGeneration()}
	if o, err := w.opts.Source.convert(u, conv); err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonInvalid, err.Error()
	} else if _, err := strategy.Normalize([]strategy.Strategy{o.strategy}, w.opts.Limits); err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonInvalid, apperr.MessageOf(err)
	}
	var st v1alpha1.StrategyStatus
	if raw, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			st = v1alpha1.StrategyStatus{}
		}
	}
	next := *st.DeepCopy()
	next.ObservedGeneration = u.GetGeneration()
	cond.LastTransitionTime = metav1.NewTime(w.opts.Now())
	meta.SetStatusCondition(&next.Conditions, cond)
	if equality.Semantic.DeepEqual(st, next) {
		return nil
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&next)
	if err != nil {
		return fmt.Errorf("status of %s: %w", u.GetName(), err)
	}
	out := u.DeepCopy()
	out.Object["status"] = raw
	var ri dynamic.ResourceInterface = res
	if ns := u.GetNamespace(); ns != "" {
		ri = res.Namespace(ns)
	}
	if _, err := ri.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("status of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}
