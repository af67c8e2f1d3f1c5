package strategy

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/health"
)

// TestPutHeldToTheSetLimits: a PUT that would take the stored set past a
// limit on the whole set is refused, naming the flag, and stores nothing.
func TestPutHeldToTheSetLimits(t *testing.T) {
	ctx := context.Background()
	lim := testLimits
	lim.Bytes = 400
	f := startFixture(t, fixtureOptions{limits: lim})
	svc := f.service
	if _, err := svc.Put(ctx, Strategy{Name: "r1", ExecutionTime: 1000, CommandRegex: "^a{40}$"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Put(ctx, Strategy{Name: "r2", ExecutionTime: 1000, CommandRegex: "^b{40}$"}); err == nil ||
		!strings.Contains(err.Error(), "at most 80 allowed (--max-regex-instructions-total)") || apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("Put past the regex total = %v", err)
	}
	// Replacing r1 frees its instructions.
	if _, err := svc.Put(ctx, Strategy{Name: "r1", ExecutionTime: 1000, CommandRegex: "^b{40}$"}); err != nil {
		t.Errorf("Put in place = %v", err)
	}
	long := strings.Repeat("n", 200)
	if _, err := svc.Put(ctx, Strategy{Name: "b1-" + long, ExecutionTime: 1000, PID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Put(ctx, Strategy{Name: "b2-" + long, ExecutionTime: 1000, PID: 1}); err == nil ||
		!strings.Contains(err.Error(), "at most 400 allowed (--max-strategies-bytes)") {
		t.Errorf("Put past the bytes = %v", err)
	}
	defs, _ := svc.Definitions(ctx)
	if len(defs) != 2 || defs[0].CommandRegex != "^b{40}$" {
		t.Errorf("definitions after refused puts: %+v", defs)
	}
	// A single strategy over its own limits is refused before the store.
	if _, err := svc.Put(ctx, Strategy{Name: "wide", ExecutionTime: 1000, Namespaces: items(4)}); err == nil ||
		!strings.Contains(err.Error(), "namespaces: 4 given, at most 3 allowed (--max-strategy-list-items)") {
		t.Errorf("Put of a wide strategy = %v", err)
	}
}

// TestPreviewHeldToTheLimits: a preview is checked as a replace-all is.
func TestPreviewHeldToTheLimits(t *testing.T) {
	f := startFixture(t, fixtureOptions{})
	list := make([]Strategy, 1000)
	for i := range list {
		list[i] = Strategy{ExecutionTime: 1000, CommandRegex: attackRegex}
	}
	if _, _, err := f.service.Preview(context.Background(), list); apperr.CodeOf(err) != apperr.Invalid ||
		!strings.Contains(err.Error(), "(--max-regex-instructions)") || !strings.Contains(err.Error(), "(--max-strategies)") {
		t.Errorf("Preview of the attack = %v", err)
	}
}

// TestResolutionSlots: previews and explanations beyond the slots wait
// briefly, then are refused with 503 and Retry-After; one past its
// timeout is stopped the same way; a freed slot serves again.
func TestResolutionSlots(t *testing.T) {
	ctx := context.Background()
	f := startFixture(t, fixtureOptions{service: ServiceOptions{Resolutions: 1, ResolutionWait: 20 * time.Millisecond}})
	if err := f.resolver.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	svc := f.service
	list := []Strategy{{ExecutionTime: 1000, CommandRegex: "upf"}}
	_, release, err := svc.resolutions.acquire(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	busy := func(err error) bool {
		return apperr.CodeOf(err) == apperr.Unavailable && apperr.RetryAfterOf(err) == time.Second &&
			strings.Contains(err.Error(), "at most 1 previews and explanations resolve at a time (--max-concurrent-previews)")
	}
	if _, _, err := svc.Preview(ctx, list); !busy(err) {
		t.Errorf("Preview with every slot taken = %v", err)
	}
	if _, err := svc.Explain(ctx); !busy(err) {
		t.Errorf("Explain with every slot taken = %v", err)
	}
	// A request's body is decoded only once it has a slot.
	decoded := false
	if _, _, err := svc.PreviewDecoded(ctx, func() ([]Strategy, error) { decoded = true; return list, nil }); !busy(err) || decoded {
		t.Errorf("PreviewDecoded with every slot taken = %v, decoded %t; want busy, not decoded", err, decoded)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.Explain(cctx); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("Explain of a request that ended while waiting = %v", err)
	}
	release()
	if _, _, err := svc.Preview(ctx, list); err != nil {
		t.Errorf("Preview with a free slot = %v", err)
	}
	if _, err := svc.Explain(ctx); err != nil {
		t.Errorf("Explain with a free slot = %v", err)
	}

	// Concurrent callers: never more than one resolves at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, _, err := svc.Preview(ctx, list)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !busy(err) {
			t.Errorf("concurrent Preview = %v", err)
		}
	}
	if len(svc.resolutions.sem) != 0 {
		t.Errorf("%d slots still taken", len(svc.resolutions.sem))
	}

	slow := startFixture(t, fixtureOptions{service: ServiceOptions{ResolutionTimeout: time.Nanosecond}})
	if err := slow.resolver.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := slow.service.Preview(ctx, list); apperr.CodeOf(err) != apperr.Unavailable || apperr.RetryAfterOf(err) != time.Second ||
		!strings.Contains(err.Error(), "the preview took longer than 1ns and was stopped") {
		t.Errorf("Preview past its timeout = %v", err)
	}
}

// logCounter counts log records by message.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestResolverSkipsWhatBreaksTheLimits: a stored set written before
// today's limits (or by hand) is loaded without the strategies that break
// them; the rest are applied, Health says which were skipped and why, and
// the log says so once per change of the skipped set.
func TestResolverSkipsWhatBreaksTheLimits(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{list: []Strategy{
		{Name: "attack-1", ExecutionTime: 1000, CommandRegex: attackRegex},
		{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"},
		{Name: "wide", ExecutionTime: 1000, Namespaces: items(100_000)},
		UnmarshalStored("damaged", []byte(`{"name":"damaged","execution_time":1000,"pid":500,"pid":1}`)),
		{Name: "ping", ExecutionTime: 2000, CommandRegex: "^ping$"},
	}}
	logs := &logCounter{}
	f := startFixture(t, fixtureOptions{store: store, logger: slog.New(logs)})
	f.waitResolved(t, []won{{101, "upf"}, {202, "ping"}})
	rep := f.resolver.Health(ctx)
	if rep.State != health.Degraded || !strings.HasPrefix(rep.Detail, "3 of the 5 stored strategies are not applied: ") {
		t.Fatalf("Health = %+v", rep)
	}
	for _, want := range []string{"attack-1 (command_regex: compiles to at least", "(--max-regex-instructions)",
		"wide (namespaces: 100000 given, at most 100 allowed (--max-strategy-list-items)", "damaged (unreadable: pid: the key is given more than once"} {
		if !strings.Contains(rep.Detail, want) {
			t.Errorf("Health detail %q lacks %q", rep.Detail, want)
		}
	}
	const warned = "stored strategies break the limits"
	// Reading the same set again logs nothing new.
	if err := f.resolver.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.count(warned); n != 1 {
		t.Errorf("%d warnings for one stored set, want 1", n)
	}
	// Only valid strategies explain and preview.
	snap, err := f.service.Explain(ctx)
	if err != nil || len(snap.Strategies) != 2 {
		t.Fatalf("Explain = %+v, %v", snap, err)
	}
	// Writing a valid set clears it.
	if _, err := f.service.ReplaceAll(ctx, []Strategy{{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}}); err != nil {
		t.Fatal(err)
	}
	if rep := f.resolver.Health(ctx); rep.State != health.OK || rep.Detail != "1 stored, all applied" {
		t.Errorf("Health after a valid write = %+v", rep)
	}
	if logs.count("every stored strategy is applied again") != 1 || logs.count(warned) != 1 {
		t.Errorf("logs: %q", logs.msgs)
	}
}

// TestResolverHealthOnReadFailure: a store that cannot be read leaves the
// strategies read before in force, and Health says so.
func TestResolverHealthOnReadFailure(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{}
	store.list = []Strategy{{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}}
	f := startFixture(t, fixtureOptions{store: store})
	f.waitResolved(t, []won{{101, "upf"}})
	store.fail.Store(true)
	if err := f.resolver.Sync(ctx); err == nil {
		t.Fatal("Sync with a failing store = nil")
	}
	rep := f.resolver.Health(ctx)
	if rep.State != health.Degraded || !strings.Contains(rep.Detail, "the stored strategies cannot be read (list strategies: disk on fire); the 1 read before stay in force") {
		t.Errorf("Health = %+v", rep)
	}
	store.fail.Store(false)
	waitFor(t, "the store read again", func() bool { return f.resolver.Health(ctx).State == health.OK })
	if got := f.resolved(); !slices.Equal(got, []won{{101, "upf"}}) {
		t.Errorf("resolved %v", got)
	}
}

// failingStore is a fakeStore whose List fails while fail is set.
type failingStore struct {
	fakeStore
	fail atomic.Bool
}

func (s *failingStore) List(ctx context.Context) ([]Strategy, uint64, error) {
	if s.fail.Load() {
		return nil, 0, errors.New("disk on fire")
	}
	return s.fakeStore.List(ctx)
}
