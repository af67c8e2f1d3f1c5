package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/notify"
)

const (
	byUID        = "uid"
	byConfigHash = "config-hash"
)

// InformerOptions configure an informer-backed Source.
type InformerOptions struct {
	// Pods lists and watches the pods of every namespace (Client.Pods). A
	// client that cannot stream lists says so as client-go's fakes do
	// (IsWatchListSemanticsUnSupported) and gets plain list+watch.
	Pods     Pods
	NodeName string
	Mode     string // in-cluster or kubeconfig, for reports
	// Resync replays the cache to the handlers periodically, making up for
	// any change a handler missed.
	Resync time.Duration
	// DeletedTTL is how long deleted pods stay resolvable.
	DeletedTTL time.Duration
	// Saved keeps the node's pods across restarts (optional): written,
	// debounced by SaveDelay (zero: 1 s), whenever the synced pods change;
	// read at start and looked up until the informer has synced once,
	// from the moment a list fails or SyncTimeout (zero: 5 s) has passed.
	Saved       PodStore
	SaveDelay   time.Duration
	SyncTimeout time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Informer is a Source backed by one shared informer on the pods bound to
// this node (field selector spec.nodeName), indexed by UID and by static
// pods' config hash. It never lists pods of other nodes, and a lookup miss
// never reaches the API server.
type Informer struct {
	notify.Notifier
	opts     InformerOptions
	log      *slog.Logger
	informer cache.SharedIndexInformer

	mu      sync.Mutex
	deleted map[string]deletedPod // by UID and config hash
	lastErr error                 // last list/watch error; nil once a call succeeds
	errAt   time.Time

	// fallback is the saved record lookups answer from until the
	// informer has synced; nil while none is in use.
	fallback atomic.Pointer[savedView]
}

type deletedPod struct {
	meta PodMeta
	at   time.Time
}

var _ Source = (*Informer)(nil)

// NewInformer builds the informer; nothing is listed before Run.
func NewInformer(opts InformerOptions) *Informer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SaveDelay <= 0 {
		opts.SaveDelay = time.Second
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 5 * time.Second
	}
	s := &Informer{opts: opts, log: opts.Logger, deleted: map[string]deletedPod{}}
	selector := fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			if o.TimeoutSeconds == nil {
				t := int64(60)
				o.TimeoutSeconds = &t
			}
			list, err := opts.Pods.List(ctx, o)
			s.recordCall(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			w, err := opts.Pods.Watch(ctx, o)
			s.recordCall(err)
			return w, err
		},
	}
	// As generated informers do: a client that cannot stream lists (the
	// fake clientset) gets plain list+watch.
	s.informer = cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, opts.Pods), &corev1.Pod{}, opts.Resync, cache.Indexers{
		byUID: func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, nil
			}
			return []string{string(p.UID)}, nil
		},
		byConfigHash: func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok || p.Annotations[ConfigHashAnnotation] == "" {
				return nil, nil
			}
			return []string{p.Annotations[ConfigHashAnnotation]}, nil
		},
	})
	// Keep only what lookups need; a node's pods then cost little memory.
	_ = s.informer.SetTransform(stripPod)
	_ = s.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		s.recordCall(err)
		s.log.Warn("pod watch failed; retrying with backoff", "err", err)
	})
	_, _ = s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { s.Changed() },
		UpdateFunc: func(oldObj, newObj any) {
			if metaChanged(oldObj, newObj) {
				s.Changed()
			}
		},
		DeleteFunc: s.onDelete,
	})
	return s
}

// metaChanged reports whether an update changed what lookups return.
// Resyncs replay every pod unchanged, and most updates of a pod are to
// its status, which lookups do not read: neither is news.
func metaChanged(oldObj, newObj any) bool {
	o, ok := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	return !ok || !ok2 || !metaFromPod(o).Equal(metaFromPod(n))
}

// stripPod drops the parts of a pod that bss-api never reads.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, Labels: p.Labels,
			ResourceVersion: p.ResourceVersion,
		},
		Spec: corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{
			ContainerStatuses:          stripStatuses(p.Status.ContainerStatuses),
			InitContainerStatuses:      stripStatuses(p.Status.InitContainerStatuses),
			EphemeralContainerStatuses: stripStatuses(p.Status.EphemeralContainerStatuses),
		},
	}
	if h := p.Annotations[ConfigHashAnnotation]; h != "" {
		out.Annotations = map[string]string{ConfigHashAnnotation: h}
	}
	return out, nil
}

func stripStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, s := range in {
		out[i] = corev1.ContainerStatus{Name: s.Name, ContainerID: s.ContainerID}
	}
	return out
}

func (s *Informer) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	m := metaFromPod(p)
	m.Deleted = true
	s.mu.Lock()
	d := deletedPod{meta: m, at: s.opts.Now()}
	s.deleted[m.UID] = d
	if m.ConfigHash != "" {
		s.deleted[m.ConfigHash] = d
	}
	s.mu.Unlock()
	s.Changed()
}

// recordCall remembers whether the last call to the API server worked.
// Before the first sync, a change between failing and working is a
// change of Pending, which subscribers hear of.
func (s *Informer) recordCall(err error) {
	s.mu.Lock()
	failed := s.lastErr != nil
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		if s.lastErr == nil {
			s.errAt = s.opts.Now()
		}
		s.lastErr = err
	case err == nil:
		s.lastErr = nil
	}
	changed := failed != (s.lastErr != nil)
	s.mu.Unlock()
	if changed && !s.informer.HasSynced() {
		s.Changed()
	}
}

// Run starts the informer and keeps it until ctx is cancelled. The
// reflector inside reconnects by itself, with backoff, when the API server
// is unreachable; meanwhile lookups answer from the last known state: the
// informer's cache once it has synced, before that the saved record (see
// InformerOptions.Saved).
func (s *Informer) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.informer.RunWithContext(ctx)
	}()
	remembered := make(chan struct{})
	go func() {
		defer close(remembered)
		s.remember(ctx)
	}()
	defer func() { <-remembered }()
	sweep := time.NewTicker(max(s.opts.DeletedTTL/4, time.Second))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-sweep.C:
			s.sweepDeleted()
		}
	}
}

func (s *Informer) sweepDeleted() {
	cutoff := s.opts.Now().Add(-s.opts.DeletedTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, d := range s.deleted {
		if d.at.Before(cutoff) {
			delete(s.deleted, k)
		}
	}
}

// Lookup implements Source. Until the informer has synced it answers
// from the saved record in use, if any, and otherwise knows no pod.
func (s *Informer) Lookup(uid string) (PodMeta, bool) {
	if !s.informer.HasSynced() {
		if fb := s.fallback.Load(); fb != nil {
			m, ok := fb.pods[uid]
			return m, ok
		}
		return PodMeta{}, false
	}
	for _, index := range []string{byUID, byConfigHash} {
		objs, err := s.informer.GetIndexer().ByIndex(index, uid)
		if err == nil && len(objs) > 0 {
			if p, ok := objs[0].(*corev1.Pod); ok {
				return metaFromPod(p), true
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.deleted[uid]; ok {
		return d.meta, true
	}
	return PodMeta{}, false
}

// Synced reports whether the informer has listed the node's pods once.
func (s *Informer) Synced() bool { return s.informer.HasSynced() }

// Health implements Source: degraded while the API server cannot be
// reached, with the last known metadata still served.
func (s *Informer) Health(context.Context) health.Report {
	s.mu.Lock()
	lastErr, since := s.lastErr, s.errAt
	s.mu.Unlock()
	pods := len(s.informer.GetStore().ListKeys())
	fb := s.fallback.Load()
	switch {
	case fb != nil && !s.informer.HasSynced():
		why := "the API server has not listed them yet"
		if lastErr != nil {
			why = fmt.Sprintf("API server unreachable for %s: %v", s.opts.Now().Sub(since).Round(time.Second), lastErr)
		}
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf(
			"%s: %s; resolving with the %d pods of node %s persisted %s ago (at %s)", s.opts.Mode, why, fb.n,
			s.opts.NodeName, s.opts.Now().Sub(fb.at).Round(time.Second), fb.at.UTC().Format(time.RFC3339))}
	case lastErr != nil:
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf(
			"%s: API server unreachable for %s (serving the last known %d pods): %v",
			s.opts.Mode, s.opts.Now().Sub(since).Round(time.Second), pods, lastErr)}
	case !s.informer.HasSynced():
		return health.Report{State: health.Degraded, Detail: s.opts.Mode + ": listing the pods of node " + s.opts.NodeName +
			"; strategies are not resolved until then: " + s.Pending()}
	}
	return health.Report{State: health.OK, Detail: fmt.Sprintf("%s: %d pods on node %s", s.opts.Mode, pods, s.opts.NodeName)}
}

// Mode implements Source.
func (s *Informer) Mode() string { return s.opts.Mode }
