package strategy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
)

// settableView is a view source whose view can be replaced; subscribers
// hear of every replacement.
type settableView struct {
	v       atomic.Pointer[podview.View]
	changes notify.Notifier
}

func newSettableView(v *podview.View) *settableView {
	s := &settableView{}
	s.v.Store(v)
	return s
}

func (s *settableView) set(v *podview.View) {
	s.v.Store(v)
	s.changes.Changed()
}

func (s *settableView) View() *podview.View                  { return s.v.Load() }
func (s *settableView) Subscribe() (<-chan struct{}, func()) { return s.changes.Subscribe() }

// changeNotices stands for a shared store's notices of writes elsewhere.
type changeNotices struct{ notify.Notifier }

func (c *changeNotices) SubscribeStrategies() (<-chan struct{}, func()) { return c.Subscribe() }

// fixtureOptions say what a fixture runs on; zero fields get defaults.
type fixtureOptions struct {
	store   Store          // default: an empty fakeStore
	views   ViewSource     // default: testView(t, 11), never changing
	changes ChangeSource   // default: none
	max     int            // default: 10
	limits  Limits         // default: DefaultLimits with max strategies
	node    string         // this server's node; default testNode
	logger  *slog.Logger   // the resolver's; default: none
	service ServiceOptions // Store, Resolver, Limits and Node are filled in
}

// fixture is a resolver running until the test ends, and a service
// writing through it.
type fixture struct {
	resolver *Resolver
	service  *Service
	stop     func() // stops the resolver and waits for Run to return
}

func startFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	if o.store == nil {
		o.store = &fakeStore{}
	}
	if o.views == nil {
		o.views = newSettableView(testView(t, 11))
	}
	if o.max == 0 {
		o.max = 10
	}
	if o.node == "" {
		o.node = testNode
	}
	if o.limits == (Limits{}) {
		o.limits = DefaultLimits()
		o.limits.Strategies = o.max
	}
	r := NewResolver(ResolverOptions{Store: o.store, Views: o.views, Changes: o.changes, Node: o.node, Limits: o.limits,
		Debounce: time.Millisecond, Logger: o.logger})
	o.service.Store, o.service.Resolver, o.service.Node, o.service.Limits = o.store, r, o.node, o.limits
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &fixture{resolver: r, service: NewService(o.service), stop: stop}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// resolved returns the winners of the current resolution; nil before the
// first.
func (f *fixture) resolved() []won {
	s := f.resolver.Snapshot()
	if s == nil {
		return nil
	}
	return winners(s.Entries)
}

func (f *fixture) waitResolved(t *testing.T, want []won) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the resolution to be %v", want), func() bool {
		got := f.resolved()
		return got != nil && slices.Equal(got, want)
	})
}

func TestServiceWrites(t *testing.T) {
	ctx := context.Background()
	f := startFixture(t, fixtureOptions{max: 3})
	r, svc := f.resolver, f.service
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Snapshot(); s == nil || len(s.Entries) != 0 {
		t.Fatalf("empty store resolves to %+v", s)
	}
	if _, err := svc.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "ping"}}); err != nil {
		t.Fatal(err)
	}
	v1 := r.Snapshot().Version
	if got, want := f.resolved(), []won{{202, "strategy-1"}}; !slices.Equal(got, want) {
		t.Errorf("after replace = %v, want %v", got, want)
	}
	// An invalid list changes nothing.
	if _, err := svc.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, PID: 1}, {ExecutionTime: 5}}); err == nil {
		t.Fatal("invalid list accepted")
	}
	if got, want := f.resolved(), []won{{202, "strategy-1"}}; !slices.Equal(got, want) {
		t.Errorf("after a rejected replace = %v, want %v", got, want)
	}
	if defs, _ := svc.Definitions(ctx); len(defs) != 1 {
		t.Errorf("definitions after a rejected replace: %d", len(defs))
	}
	// Resolving again without a change keeps the version.
	if err := r.Sync(ctx); err != nil || r.Snapshot().Version != v1 {
		t.Errorf("a resolution without change moved the version from %d to %d (%v)", v1, r.Snapshot().Version, err)
	}
	put, err := svc.Put(ctx, Strategy{Name: "gnb", ExecutionTime: 1000, Namespaces: []string{"ran"}})
	if err != nil || !put.Created {
		t.Fatalf("Put = %+v, %v", put, err)
	}
	if got, want := f.resolved(), []won{{201, "gnb"}, {202, "strategy-1"}}; !slices.Equal(got, want) {
		t.Errorf("after put = %v, want %v", got, want)
	}
	if put, err := svc.Put(ctx, Strategy{Name: "gnb", ExecutionTime: 2000, Namespaces: []string{"core"}}); err != nil || put.Created {
		t.Errorf("replace = %+v, %v", put, err)
	}
	if _, err := svc.Put(ctx, Strategy{Name: "bad", ExecutionTime: 1}); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("invalid put = %v", err)
	}
	if err := svc.Delete(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("delete missing = %v", err)
	}
	if err := svc.Delete(ctx, "gnb"); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.Preview(ctx, []Strategy{{Name: "pv", ExecutionTime: 1000, CommandRegex: "upf"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := winners(p.Entries), []won{{101, "pv"}}; !slices.Equal(got, want) || p.Matched[0] != 1 {
		t.Errorf("preview = %v matching %d, want %v matching 1", got, p.Matched[0], want)
	}
	if got, want := f.resolved(), []won{{202, "strategy-1"}}; !slices.Equal(got, want) {
		t.Errorf("a preview changed the resolution: %v, want %v", got, want)
	}
	for i := range 2 {
		if _, err := svc.Put(ctx, Strategy{Name: fmt.Sprintf("x%d", i), ExecutionTime: 1000, PID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Put(ctx, Strategy{Name: "over", ExecutionTime: 1000, PID: 1}); err == nil || !strings.Contains(err.Error(), "at most 3") {
		t.Errorf("put over the limit = %v", err)
	}
}

// Explain records every match of the strategies in force and binds
// nothing; its version is the current resolution's.
func TestServiceExplain(t *testing.T) {
	ctx := context.Background()
	f := startFixture(t, fixtureOptions{})
	if _, err := f.service.ReplaceAll(ctx, []Strategy{
		{Name: "ns", ExecutionTime: 1000, Namespaces: []string{"ran"}},
		{Name: "re", ExecutionTime: 1000, CommandRegex: "nr-gnb|ping"},
	}); err != nil {
		t.Fatal(err)
	}
	e, err := f.service.Explain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur := f.resolver.Snapshot(); e.Version != cur.Version || !slices.Equal(e.Entries, cur.Entries) {
		t.Errorf("explained version %d entries %v, want the current %d %v", e.Version, e.Entries, cur.Version, cur.Entries)
	}
	if want := []int{2, 3}; !slices.Equal(e.Matched, want) {
		t.Errorf("matched %v, want %v", e.Matched, want)
	}
}

// flakyStore is a fakeStore whose reads can fail; it counts List calls.
type flakyStore struct {
	fakeStore
	down  atomic.Bool
	lists atomic.Int64
}

func (s *flakyStore) List(ctx context.Context) ([]Strategy, uint64, error) {
	s.lists.Add(1)
	if s.down.Load() {
		return nil, 0, errors.New("db down")
	}
	return s.fakeStore.List(ctx)
}

// The pod view keeps being resolved, with the strategies last read, while
// the store cannot be read; and a view change does not read the store.
func TestResolverFollowsTheViewWithoutTheStore(t *testing.T) {
	ctx := context.Background()
	store := &flakyStore{}
	views := newSettableView(testView(t, 11))
	changes := &changeNotices{}
	f := startFixture(t, fixtureOptions{store: store, views: views, changes: changes})
	if _, err := f.service.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "^upf$"}}); err != nil {
		t.Fatal(err)
	}
	f.waitResolved(t, []won{{101, "strategy-1"}})
	lists := store.lists.Load()
	for start := uint64(12); start < 15; start++ {
		views.set(testView(t, start))
		waitFor(t, fmt.Sprintf("the upf process started at %d to be resolved", start), func() bool {
			s := f.resolver.Snapshot()
			return len(s.Entries) == 1 && s.Entries[0].StartTime == start
		})
	}
	if n := store.lists.Load() - lists; n != 0 {
		t.Errorf("resolutions of view changes with the store unchanged read it %d times", n)
	}

	store.down.Store(true)
	if err := f.resolver.Sync(ctx); err == nil {
		t.Error("Sync with the store down reported no error")
	}
	changes.Changed() // a write elsewhere: the store must be read again
	// The upf process exits: its PID must leave the resolution even though
	// the strategies cannot be read.
	views.set(podview.Build(2, procs.NewSnapshot(2, time.Unix(0, 0), nil, nil), meta{}))
	f.waitResolved(t, []won{})
}

// A write that committed succeeds even when reading the store back fails;
// Run serves the change as soon as the store is readable.
func TestResolverWriteStandsWhenTheReadBackFails(t *testing.T) {
	ctx := context.Background()
	store := &flakyStore{}
	f := startFixture(t, fixtureOptions{store: store})
	f.waitResolved(t, []won{})
	store.down.Store(true)
	if put, err := f.service.Put(ctx, Strategy{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}); err != nil || !put.Created {
		t.Fatalf("Put with the read-back failing = %+v, %v; want created", put, err)
	}
	if list, _, _ := store.fakeStore.List(ctx); len(list) != 1 {
		t.Fatalf("stored %d strategies, want 1", len(list))
	}
	store.down.Store(false)
	f.waitResolved(t, []won{{101, "upf"}})
}

// A write that arrives after the resolver stopped (the server is shutting
// down) still commits and answers instead of waiting forever.
func TestWritesAnswerAfterTheResolverStops(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{}
	f := startFixture(t, fixtureOptions{store: store})
	f.stop()
	if put, err := f.service.Put(ctx, Strategy{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}); err != nil || !put.Created {
		t.Fatalf("Put after the resolver stopped = %+v, %v; want created", put, err)
	}
	if list, _, _ := store.List(ctx); len(list) != 1 {
		t.Errorf("stored %d strategies, want 1", len(list))
	}
}

// yieldingStore is a fakeStore that lets other goroutines run in the
// middle of every call, so concurrent writes and reads interleave.
type yieldingStore struct{ fakeStore }

func (s *yieldingStore) List(ctx context.Context) ([]Strategy, uint64, error) {
	runtime.Gosched()
	list, v, err := s.fakeStore.List(ctx)
	runtime.Gosched()
	return list, v, err
}

func (s *yieldingStore) Put(ctx context.Context, st Strategy, admit func([]Strategy) error) (Strategy, bool, error) {
	runtime.Gosched()
	return s.fakeStore.Put(ctx, st, admit)
}

// names returns the names of a snapshot's strategies as a set.
func names(s *Snapshot) map[string]bool {
	out := map[string]bool{}
	if s != nil {
		for _, st := range s.Strategies {
			out[st.Name] = true
		}
	}
	return out
}

// Many writers at once: every write answers only once the resolution
// includes it (none is lost), and no resolution is published after one
// that read a newer store (none out of order), which a snapshot losing a
// strategy an earlier one had would show (writers only add).
func TestConcurrentWritesResolveInOrder(t *testing.T) {
	const writers, puts = 8, 25
	ctx := context.Background()
	store := &yieldingStore{}
	views := newSettableView(testView(t, 11))
	f := startFixture(t, fixtureOptions{store: store, views: views, max: writers * puts})

	// A watcher checks every snapshot it sees against the one before,
	// while the view keeps changing under the writers.
	stop := make(chan struct{})
	watched := make(chan error, 1)
	go func() {
		var prev *Snapshot
		start := uint64(11)
		for {
			select {
			case <-stop:
				watched <- nil
				return
			default:
			}
			cur := f.resolver.Snapshot()
			if prev != nil && cur != prev {
				now := names(cur)
				for name := range names(prev) {
					if !now[name] {
						watched <- fmt.Errorf("snapshot version %d lost %s, which version %d had", cur.Version, name, prev.Version)
						return
					}
				}
				if cur.Version < prev.Version {
					watched <- fmt.Errorf("version went back from %d to %d", prev.Version, cur.Version)
					return
				}
			}
			prev = cur
			start++
			views.set(testView(t, start%20+1))
			runtime.Gosched()
		}
	}()

	errs := make(chan error, writers*puts)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range puts {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := f.service.Put(ctx, Strategy{Name: name, ExecutionTime: 1000, CommandRegex: "^upf$"}); err != nil {
					errs <- fmt.Errorf("Put(%s): %w", name, err)
					return
				}
				if !names(f.resolver.Snapshot())[name] {
					errs <- fmt.Errorf("Put(%s) answered before a resolution included it", name)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-watched; err != nil {
		t.Error(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	defs, err := f.service.Definitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	final := f.resolver.Snapshot()
	if len(defs) != writers*puts || !slices.EqualFunc(defs, final.Strategies, func(a, b Strategy) bool { return a.Name == b.Name }) {
		t.Errorf("stored %d strategies, resolved %d; want all %d, the same in the same order", len(defs), len(final.Strategies), writers*puts)
	}
}
