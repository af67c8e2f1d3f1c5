package strategy

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/podview"
)

// ViewSource is the joined pod view the resolver resolves against.
type ViewSource interface {
	View() *podview.View
	Subscribe() (<-chan struct{}, func())
}

// PIDWatcher is told which PIDs explicit strategies target, so it can
// notice them exit quickly even outside pods.
type PIDWatcher interface {
	WatchPIDs(pids []int)
}

// Snapshot is an immutable resolution. Readers must not modify it.
type Snapshot struct {
	// Version moves whenever Entries change, and only then.
	Version    uint64
	ResolvedAt time.Time
	Strategies []Strategy // as resolved, names filled, in precedence order
	Result
}

// ChangeSource tells of strategy changes made elsewhere, such as another
// bss-api writing to a shared store. Optional.
type ChangeSource interface {
	SubscribeStrategies() (<-chan struct{}, func())
}

// Options configure a Resolver.
type Options struct {
	Store   Store
	Views   ViewSource
	Watcher PIDWatcher // optional
	// Changes, when the store is shared, wakes the resolver on changes
	// written by other instances. Optional.
	Changes ChangeSource
	// Max is the largest number of strategies stored.
	Max int
	// Debounce batches bursts of view changes into one resolution.
	Debounce time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Resolver keeps the resolution of the stored strategies against the
// current pod view. Reads are lock-free snapshot loads; writes go through
// the store and are resolved before they return, so a GET after a
// successful write already reflects it.
type Resolver struct {
	opts Options
	log  *slog.Logger
	snap atomic.Pointer[Snapshot]

	mu       sync.Mutex // serialises resolution and writes
	bind     Bindings
	list     []Strategy  // as last read from the store
	compiled []*compiled // list, compiled
	loaded   bool        // list has been read at least once
	stale    bool        // the store changed since list was read
	version  uint64
	// retry wakes Run to read the store again after a failed read.
	retry chan struct{}
}

// retryAfter is how long Run waits before reading the store again after
// a failed read.
const retryAfter = time.Second

// NewResolver returns a resolver; nothing is resolved before Run or a write.
func NewResolver(opts Options) *Resolver {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Resolver{opts: opts, log: opts.Logger, bind: Bindings{}, stale: true, retry: make(chan struct{}, 1)}
}

// Snapshot returns the current resolution, or nil before the first.
func (r *Resolver) Snapshot() *Snapshot { return r.snap.Load() }

// Run re-resolves after every change of the pod view until ctx is
// cancelled. The store is read again only when it changed: after a write,
// or when Changes tells of a write elsewhere; a failed read is retried
// every second, resolving the pod view with the last strategies read
// meanwhile.
func (r *Resolver) Run(ctx context.Context) error {
	ch, stop := r.opts.Views.Subscribe()
	defer stop()
	var external <-chan struct{}
	if r.opts.Changes != nil {
		c, stopChanges := r.opts.Changes.SubscribeStrategies()
		defer stopChanges()
		external = c
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	schedule := func(after time.Duration) {
		if !pending {
			pending = true
			timer.Reset(after)
		}
	}
	refresh := func() {
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("resolve strategies", "err", err)
			schedule(retryAfter)
		}
	}
	refresh()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-external:
			r.markStale()
			schedule(r.opts.Debounce)
		case <-r.retry:
			schedule(retryAfter)
		case <-ch:
			schedule(r.opts.Debounce)
		case <-timer.C:
			pending = false
			refresh()
		}
	}
}

func (r *Resolver) markStale() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}

// Refresh resolves the current view now, reading the store first if it
// changed. When that read fails, the view is still resolved, with the last
// strategies read, and the error is returned.
func (r *Resolver) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshLocked(ctx)
}

func (r *Resolver) refreshLocked(ctx context.Context) error {
	var readErr error
	if r.stale {
		if readErr = r.reload(ctx); readErr == nil {
			r.stale = false
		} else if !r.loaded {
			return readErr
		}
	}
	v := r.opts.Views.View()
	if v == nil {
		return readErr // no processes known yet; Run resolves when they are
	}
	// Entries only: the counts of preview and explain are computed on
	// demand.
	res := Resolve(r.compiled, v, r.bind, Winners)
	cur := r.snap.Load()
	if cur == nil || !slices.Equal(cur.Entries, res.Entries) {
		r.version++
	}
	r.snap.Store(&Snapshot{Version: r.version, ResolvedAt: r.opts.Now(), Strategies: r.list, Result: res})
	return readErr
}

// reload reads and compiles the stored strategies.
func (r *Resolver) reload(ctx context.Context) error {
	list, _, err := r.opts.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("list strategies: %w", err)
	}
	cs := make([]*compiled, 0, len(list))
	for _, s := range list {
		c, err := compile(s)
		if err != nil {
			return err // stored strategies were validated on write
		}
		cs = append(cs, c)
	}
	r.list, r.compiled, r.loaded = list, cs, true
	// Forget bindings of strategies that are gone or changed target.
	keep := map[BindingKey]bool{}
	var pids []int
	for _, s := range list {
		keep[BindingKey{s.Name, s.PID}] = true
		if s.PID != 0 {
			pids = append(pids, int(s.PID))
		}
	}
	maps.DeleteFunc(r.bind, func(k BindingKey, _ uint64) bool { return !keep[k] })
	if r.opts.Watcher != nil {
		r.opts.Watcher.WatchPIDs(pids)
	}
	return nil
}

// written resolves after a committed write. The write stands whatever
// happens here: when the store cannot be read back, the previous
// strategies stay in force and Run retries, so the change is served as
// soon as the store is readable.
func (r *Resolver) written(ctx context.Context) {
	r.stale = true
	if err := r.refreshLocked(context.WithoutCancel(ctx)); err != nil {
		r.log.Warn("strategy change committed; reading it back failed, retrying", "err", err)
		select {
		case r.retry <- struct{}{}:
		default:
		}
	}
}

// Definitions returns the stored strategies as written, with their names.
func (r *Resolver) Definitions(ctx context.Context) ([]Strategy, error) {
	list, _, err := r.opts.Store.List(ctx)
	if err != nil {
		return nil, storeError(err, "read")
	}
	return list, nil
}

// storeError passes on a store error that carries an apperr code (the
// stores mark their own failures Unavailable, and refusals Invalid or
// NotFound); one without a code is a failure of the store: 503.
func storeError(err error, what string) error {
	if apperr.CodeOf(err) != apperr.Internal {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, err, "the strategy store cannot be "+what)
}

// ReplaceAll validates list and replaces every stored strategy with it
// atomically (the seed's POST), then resolves.
func (r *Resolver) ReplaceAll(ctx context.Context, list []Strategy) ([]Strategy, error) {
	norm, err := Normalize(list, r.opts.Max)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.opts.Store.Replace(ctx, norm); err != nil {
		return nil, storeError(err, "written")
	}
	r.written(ctx)
	return norm, nil
}

// Put creates or replaces the strategy s.Name, then resolves.
func (r *Resolver) Put(ctx context.Context, s Strategy) (bool, error) {
	if s.Name == "" {
		return false, apperr.Errorf(apperr.Invalid, "name: required")
	}
	if err := s.Validate(); err != nil { // the name's rule included
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	created, err := r.opts.Store.Put(ctx, s, r.opts.Max)
	if err != nil {
		return false, storeError(err, "written")
	}
	r.written(ctx)
	return created, nil
}

// Delete removes the named strategy, then resolves.
func (r *Resolver) Delete(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.opts.Store.Delete(ctx, name); err != nil {
		return storeError(err, "written")
	}
	r.written(ctx)
	return nil
}

// Explain resolves the strategies in force again, recording every match,
// against the current view. Version is that of the snapshot current when
// it was asked. The resolution runs outside the lock: at a thousand
// strategies over ten thousand processes it takes about 0.1 s, and writes
// and background resolutions need not wait for it.
func (r *Resolver) Explain(_ context.Context) (*Snapshot, error) {
	r.mu.Lock()
	cur := r.snap.Load()
	list, cs, bind := r.list, r.compiled, maps.Clone(r.bind)
	r.mu.Unlock()
	v := r.opts.Views.View()
	if cur == nil || v == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "strategies are not resolved yet; retry in a moment")
	}
	res := Resolve(cs, v, bind, Explain)
	return &Snapshot{Version: cur.Version, ResolvedAt: r.opts.Now(), Strategies: list, Result: res}, nil
}

// Preview resolves list against the current view without storing it.
func (r *Resolver) Preview(_ context.Context, list []Strategy) (*Snapshot, error) {
	norm, err := Normalize(list, r.opts.Max)
	if err != nil {
		return nil, err
	}
	cs := make([]*compiled, len(norm))
	for i, s := range norm {
		if cs[i], err = compile(s); err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "%v", err)
		}
	}
	v := r.opts.Views.View()
	if v == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "the process index is still scanning; retry in a moment")
	}
	r.mu.Lock()
	bind := maps.Clone(r.bind) // a preview must not bind anything
	r.mu.Unlock()
	return &Snapshot{ResolvedAt: r.opts.Now(), Strategies: norm, Result: Resolve(cs, v, bind, Counts)}, nil
}
