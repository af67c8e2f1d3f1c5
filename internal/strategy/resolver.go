package strategy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/notify"
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

// ChangeSource tells of strategy changes made elsewhere, such as another
// bss-api writing to a shared store. Optional.
type ChangeSource interface {
	SubscribeStrategies() (<-chan struct{}, func())
}

// Snapshot is an immutable resolution. Readers must not modify it.
type Snapshot struct {
	// Version moves whenever Entries change, and only then.
	Version    uint64
	ResolvedAt time.Time
	Strategies []Strategy // as resolved, names filled, in precedence order
	Result

	// What explain and preview resolve with: Strategies compiled, and the
	// bindings as this resolution left them. Read-only; clone bind to
	// resolve with it.
	compiled []*compiled
	bind     Bindings
}

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	// Store is read (List) when it may have changed; the resolver never
	// writes it.
	Store   Store
	Views   ViewSource
	Watcher PIDWatcher // optional
	// Changes, when the store is shared, wakes the resolver on changes
	// written by other instances. Optional.
	Changes ChangeSource
	// Node is this server's node: a strategy with nodes applies only if
	// they list it.
	Node string
	// Limits are held to every stored set read (zero: DefaultLimits): a
	// stored strategy that breaks them is not applied, and Health says
	// which and why.
	Limits Limits
	// Debounce batches bursts of view changes into one resolution.
	Debounce time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Resolver keeps the resolution of the stored strategies against the
// current pod view. Run's goroutine owns everything a resolution uses (the
// strategies last read, the bindings, the version) and is the only one
// that reads the store for it, resolves and publishes, so resolutions are
// published in the order their reads were made and no lock is held across
// store I/O. Snapshot is a lock-free load. Sync lets a writer wait until
// its change is resolved. Safe for concurrent use.
type Resolver struct {
	opts  ResolverOptions
	log   *slog.Logger
	check *checker
	snap  atomic.Pointer[Snapshot]
	state atomic.Pointer[loadState] // what the last read found, for Health
	// published is told of every snapshot that moves Version (see Next).
	published notify.Notifier

	// requested counts Sync calls. A read of the store made after
	// requested reached n sees every change made before the nth Sync.
	requested atomic.Uint64
	wake      chan struct{} // holds one wake-up: Sync was called
	stopped   chan struct{} // closed when Run returns

	mu       sync.Mutex // guards the three below; held only to swap them
	done     uint64     // the highest request a finished read covers
	doneErr  error      // that read's error
	progress chan struct{}

	// Owned by Run's goroutine.
	list      []Strategy           // as last read from the store
	compiled  []*compiled          // list, compiled
	prepared  map[string]*prepared // by name, what the last read checked and compiled
	reads     uint64               // reloads, to find what prepared no longer holds
	bind      Bindings
	loaded    bool   // list has been read at least once
	covered   uint64 // the requests that list includes
	elsewhere bool   // Changes told of a change since list was read
	version   uint64
}

// retryAfter is how long Run waits before reading the store again after
// a failed read.
const retryAfter = time.Second

// errStopped is what Sync returns once Run has returned.
var errStopped = errors.New("the strategy resolver has stopped")

// NewResolver returns a resolver; nothing is resolved before Run.
func NewResolver(opts ResolverOptions) *Resolver {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Resolver{
		opts: opts, log: opts.Logger, check: newChecker(opts.Limits), bind: Bindings{},
		wake: make(chan struct{}, 1), stopped: make(chan struct{}), progress: make(chan struct{}),
	}
}

// Snapshot returns the current resolution, or nil before the first.
func (r *Resolver) Snapshot() *Snapshot { return r.snap.Load() }

// view returns the current pod view, or nil before the first scan.
func (r *Resolver) view() *podview.View { return r.opts.Views.View() }

// Run resolves the stored strategies until ctx is cancelled: at once, after
// every change of the pod view (debounced), at every Sync, and after
// Changes tells of a write elsewhere. The store is read again only when it
// may have changed: at a Sync, or after such a notice. A failed read is
// retried every second, resolving the pod view with the last strategies
// read meanwhile. Run must be called at most once.
func (r *Resolver) Run(ctx context.Context) error {
	defer close(r.stopped)
	views, stopViews := r.opts.Views.Subscribe()
	defer stopViews()
	var elsewhere <-chan struct{}
	if r.opts.Changes != nil {
		c, stopChanges := r.opts.Changes.SubscribeStrategies()
		defer stopChanges()
		elsewhere = c
	}
	batch := notify.NewBatch()
	defer batch.Stop()
	resolve := func() {
		if err := r.refresh(ctx); err != nil && ctx.Err() == nil {
			r.noteReadError(err)
			r.log.Error("resolve strategies", "err", err)
			batch.Arm(retryAfter)
		}
	}
	resolve()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-elsewhere:
			r.elsewhere = true
			batch.Arm(r.opts.Debounce)
		case <-views:
			batch.Arm(r.opts.Debounce)
		case <-r.wake:
			resolve()
		case <-batch.C():
			batch.Fired()
			resolve()
		}
	}
}

// Sync makes Run read the store and resolve, and waits until it has. When
// Sync returns nil, Snapshot reflects every change the store had made
// before Sync was called (once there is a pod view to resolve). Otherwise it returns the error of the read that
// was to include them (Run retries it), ctx's error, or an error saying
// that Run has returned. Sync waits for Run: it returns before ctx ends
// only once Run has been started.
func (r *Resolver) Sync(ctx context.Context) error {
	n := r.requested.Add(1)
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is pending; the read it starts will include n
	}
	for {
		r.mu.Lock()
		done, err, progress := r.done, r.doneErr, r.progress
		r.mu.Unlock()
		if done >= n {
			return err
		}
		select {
		case <-progress:
		case <-r.stopped:
			return errStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refresh reads the store if it may have changed, then resolves the
// current view and publishes the result. When the read fails, the view is
// still resolved, with the strategies last read, and the error returned.
// Only Run's goroutine calls it.
func (r *Resolver) refresh(ctx context.Context) error {
	target := r.requested.Load() // before the read, which then includes them
	read := !r.loaded || r.elsewhere || target > r.covered
	var err error
	if read {
		if err = r.reload(ctx); err == nil {
			r.covered, r.elsewhere = target, false
		}
	}
	if r.loaded {
		r.publish(ctx)
	}
	if read {
		r.finished(target, err)
	}
	return err
}

// publish resolves the current view with the strategies in hand and
// publishes the snapshot. Before the first process scan there is nothing
// to resolve, and a view whose pod metadata is incomplete would resolve
// to a partial answer: the last snapshot stays (see complete); Run
// resolves when the view changes.
func (r *Resolver) publish(ctx context.Context) {
	v := r.view()
	if !complete(v) {
		return
	}
	// Entries only: the counts of preview and explain are computed on
	// demand.
	res, err := Resolve(ctx, r.compiled, v, r.bind, Winners)
	if err != nil {
		return // stopping
	}
	cur := r.snap.Load()
	moved := cur == nil || !slices.Equal(cur.Entries, res.Entries)
	if moved {
		r.version++
	}
	r.snap.Store(&Snapshot{Version: r.version, ResolvedAt: r.opts.Now(), Strategies: r.list, Result: res,
		compiled: r.compiled, bind: maps.Clone(r.bind)})
	if moved {
		r.published.Changed()
	}
}

// finished tells the Sync callers waiting for requests up to target that
// the read meant to include them is over, with err.
func (r *Resolver) finished(target uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.doneErr = target, err
	close(r.progress)
	r.progress = make(chan struct{})
}

// prepared is one strategy as a read checked it, and compiled it if it
// was kept.
type prepared struct {
	s        Strategy
	problems []string
	cost     cost
	compiled *compiled // nil: not compiled
	read     uint64    // the last read that found it stored
}

// reload reads the stored strategies and compiles those that may be
// applied (see checker.inForce). A strategy equal to the one of the same
// name at the previous read is neither checked nor compiled again: when
// one of a thousand custom resources changes, every server reads all of
// them, and checking and compiling each again was most of that read.
func (r *Resolver) reload(ctx context.Context) error {
	stored, _, err := r.opts.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("list strategies: %w", err)
	}
	if r.prepared == nil {
		r.prepared = map[string]*prepared{}
	}
	r.reads++
	// find returns s as prepared: checked, and compiled once kept.
	find := func(s Strategy) *prepared {
		cur := r.prepared[s.Name]
		if cur != nil && cur.s.Equal(s) {
			cur.read = r.reads
			return cur
		}
		p := &prepared{s: s}
		p.problems, p.cost = r.check.strategy(s)
		// A second strategy of a name this read has seen (stores keep
		// names unique; a bad row may not) is checked apart: the first
		// keeps the entry.
		if cur == nil || cur.read != r.reads {
			p.read = r.reads
			r.prepared[s.Name] = p
		}
		return p
	}
	own := func(s Strategy) ([]string, cost) {
		p := find(s)
		return p.problems, p.cost
	}
	kept, skipped := r.check.inForceWith(stored, own)
	list := kept[:0] // kept is this read's own: filtered in place
	cs := make([]*compiled, 0, len(kept))
	for _, s := range kept {
		p := find(s)
		if p.compiled == nil {
			c, err := compile(s, r.opts.Node)
			if err != nil { // checked; only a bug gets here
				skipped = append(skipped, Skipped{Name: s.Name, Reason: err.Error()})
				continue
			}
			p.compiled = c
		}
		list, cs = append(list, s), append(cs, p.compiled)
	}
	maps.DeleteFunc(r.prepared, func(_ string, p *prepared) bool { return p.read != r.reads })
	r.noteLoad(len(list), skipped)
	r.list, r.compiled, r.loaded = list, cs, true
	// Forget bindings of strategies that are gone or changed target.
	if len(r.bind) > 0 {
		keep := make(map[BindingKey]bool, len(list))
		for _, s := range list {
			keep[BindingKey{s.Name, s.PID}] = true
		}
		maps.DeleteFunc(r.bind, func(k BindingKey, _ uint64) bool { return !keep[k] })
	}
	var pids []int
	for i, s := range list {
		if s.PID != 0 && !cs[i].elsewhere {
			pids = append(pids, int(s.PID))
		}
	}
	if r.opts.Watcher != nil {
		// Each PID once, and only this node's: the watcher reads /proc
		// for every PID it is given at every poll.
		slices.Sort(pids)
		r.opts.Watcher.WatchPIDs(slices.Compact(pids))
	}
	return nil
}
