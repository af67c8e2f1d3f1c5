package crd

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Options configure a Source.
type Options struct {
	// Client reads both kinds of every namespace.
	Client dynamic.Interface
	// Resync replays the caches periodically (zero: never).
	Resync time.Duration
	Logger *slog.Logger
}

// Source keeps the strategies of every SchedulingStrategy and
// ClusterSchedulingStrategy with one informer per kind: reads never reach
// the API server. It is a strategy.Store whose writes are refused with a
// Conflict pointing to kubectl, and a strategy.ChangeSource telling of
// every change the informers see. Safe for concurrent use.
type Source struct {
	changes    notify.Notifier
	log        *slog.Logger
	namespaced cache.SharedIndexInformer
	cluster    cache.SharedIndexInformer
	version    atomic.Uint64

	// Every List reads all objects again (a change to one moves the
	// precedence of all), and converting an object walks it by
	// reflection: about 20 allocations and most of a List's cost. So each
	// object is converted once per generation (the spec's version: the
	// status writer's updates leave it alone) and kept here, by UID, for
	// as long as it is cached.
	mu        sync.Mutex
	converted map[types.UID]*conversion
	reads     uint64 // objects calls, to find conversions no longer cached
}

// conversion is an object as converted at one generation, or at one
// resourceVersion for an object without generations.
type conversion struct {
	generation      int64
	resourceVersion string
	obj             object
	err             error
	read            uint64 // the last objects call that found it cached
}

var (
	_ strategy.Store        = (*Source)(nil)
	_ strategy.ChangeSource = (*Source)(nil)
)

// New builds the informers; nothing is listed before Run.
func New(opts Options) *Source {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Built on cache directly: client-go's dynamicinformer package
	// imports the whole clientset, whose scheme would register every API
	// group of Kubernetes (see kube.Client).
	inf := func(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
		r := opts.Client.Resource(gvr)
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return r.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return r.Watch(ctx, o)
			},
		}
		inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, opts.Resync, cache.Indexers{})
		_ = inf.SetTransform(slim) // fails only once the informer runs
		return inf
	}
	return &Source{log: opts.Logger, namespaced: inf(v1alpha1.Namespaced), cluster: inf(v1alpha1.Cluster)}
}

// Run runs both informers until ctx is cancelled.
func (s *Source) Run(ctx context.Context) error {
	changed := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed() },
		UpdateFunc: func(old, cur any) { s.updated(old, cur) },
		DeleteFunc: func(any) { s.changed() },
	}
	for _, inf := range []cache.SharedIndexInformer{s.namespaced, s.cluster} {
		if _, err := inf.AddEventHandler(changed); err != nil {
			return err
		}
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			s.log.Warn("watch strategy custom resources", "err", err)
		}); err != nil {
			return err
		}
	}
	done := make(chan struct{}, 2)
	for _, inf := range []cache.SharedIndexInformer{s.namespaced, s.cluster} {
		go func() {
			inf.RunWithContext(ctx)
			done <- struct{}{}
		}()
	}
	<-ctx.Done()
	<-done
	<-done
	return nil
}

// updated tells of a change unless only the status moved: the status
// writer's own writes must not make every node resolve again.
func (s *Source) updated(old, cur any) {
	o, ok1 := old.(*unstructured.Unstructured)
	c, ok2 := cur.(*unstructured.Unstructured)
	if ok1 && ok2 && o.GetGeneration() != 0 && o.GetGeneration() == c.GetGeneration() {
		return
	}
	s.changed()
}

func (s *Source) changed() {
	s.version.Add(1)
	s.changes.Changed()
}

// SubscribeStrategies tells of every change of either kind.
func (s *Source) SubscribeStrategies() (<-chan struct{}, func()) { return s.changes.Subscribe() }

// Synced reports whether both informers have listed once.
func (s *Source) Synced() bool { return s.namespaced.HasSynced() && s.cluster.HasSynced() }

// errNotSynced answers reads before both informers have listed: the
// resolver then keeps answering 503 rather than an empty list.
var errNotSynced = apperr.Errorf(apperr.Unavailable, "the strategy custom resources are not listed from the Kubernetes API server yet")

// List returns the strategies of both kinds in precedence order (see
// sortObjects) and the version of the caches.
func (s *Source) List(context.Context) ([]strategy.Strategy, uint64, error) {
	if !s.Synced() {
		return nil, 0, errNotSynced
	}
	v := s.version.Load()
	objs := s.objects()
	list := make([]strategy.Strategy, len(objs))
	for i, o := range objs {
		list[i] = o.strategy
	}
	return list, v, nil
}

// objects converts the cached objects, in precedence order. An object
// that does not convert (the schema makes it rare) is logged, once per
// version, and left out. The objects returned are shared: read-only.
func (s *Source) objects() []*object {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	var objs []*object
	for _, kind := range []struct {
		inf  cache.SharedIndexInformer
		conv func(*unstructured.Unstructured) (object, error)
	}{{s.namespaced, fromNamespaced}, {s.cluster, fromCluster}} {
		for _, item := range kind.inf.GetStore().List() {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			c := s.convertLocked(u, kind.conv)
			c.read = s.reads
			if c.err == nil {
				objs = append(objs, &c.obj)
			}
		}
	}
	maps.DeleteFunc(s.converted, func(_ types.UID, c *conversion) bool { return c.read != s.reads })
	slices.SortFunc(objs, compareObjects)
	return objs
}

// convert converts u with conv, or answers from the cache when u's
// generation was converted already (the status writer's reads).
func (s *Source) convert(u *unstructured.Unstructured, conv func(*unstructured.Unstructured) (object, error)) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convertLocked(u, conv)
	return c.obj, c.err
}

// convertLocked is convert with s.mu held. objects forgets what is no
// longer cached.
func (s *Source) convertLocked(u *unstructured.Unstructured, conv func(*unstructured.Unstructured) (object, error)) *conversion {
	uid, gen, rv := u.GetUID(), u.GetGeneration(), u.GetResourceVersion()
	if c := s.converted[uid]; c != nil && uid != "" && c.current(gen, rv) {
		return c
	}
	c := &conversion{generation: gen, resourceVersion: rv}
	if c.obj, c.err = conv(u); c.err != nil {
		s.log.Warn("strategy custom resource left out", "err", c.err)
	}
	if uid != "" {
		if s.converted == nil {
			s.converted = map[types.UID]*conversion{}
		}
		s.converted[uid] = c
	}
	return c
}

// current reports whether c converted the object at generation gen and
// resourceVersion rv.
func (c *conversion) current(gen int64, rv string) bool {
	if gen > 0 {
		return c.generation == gen
	}
	return rv != "" && c.resourceVersion == rv
}

// slim drops from a cached object what the server never reads: its
// managedFields and annotations (kubectl's last-applied configuration
// among them) are most of its size, and every node's server caches every
// object. Status updates ignore metadata, so the status writer may send
// a slimmed object back.
func slim(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	}
	return obj, nil
}

// ErrReadOnly refuses every write: the strategies are the custom
// resources, written with kubectl.
var ErrReadOnly = apperr.Errorf(apperr.Conflict,
	"strategies come from Kubernetes custom resources on this server (--strategy-source=kubernetes): "+
		"write them with kubectl (kubectl apply -f a SchedulingStrategy or ClusterSchedulingStrategy; see docs/crd.md)")

// Replace refuses: see ErrReadOnly.
func (s *Source) Replace(context.Context, []strategy.Strategy) ([]strategy.Strategy, error) {
	return nil, ErrReadOnly
}

// Put refuses: see ErrReadOnly.
func (s *Source) Put(context.Context, strategy.Strategy, func([]strategy.Strategy) error) (strategy.Strategy, bool, error) {
	return strategy.Strategy{}, false, ErrReadOnly
}

// Delete refuses: see ErrReadOnly.
func (s *Source) Delete(context.Context, string) (strategy.Strategy, error) {
	return strategy.Strategy{}, ErrReadOnly
}

// Health reports whether both kinds are listed.
func (s *Source) Health(context.Context) health.Report {
	if !s.Synced() {
		return health.Report{State: health.Down, Detail: errNotSynced.Message}
	}
	return health.Report{State: health.OK, Detail: "strategies from custom resources"}
}
