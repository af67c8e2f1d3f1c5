// Package storetest is the conformance suite every store backend passes:
// memory, SQLite and PostgreSQL. It holds them to store.Backend's
// contract.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Options size the backend under test: it keeps at most MaxCount samples
// no older than MaxAge, and the audit records Audit allows, as measured by
// Now. A backend with a periodic retention job should run it often (every
// few tens of milliseconds) for the suite to see it work.
type Options struct {
	MaxCount int
	MaxAge   time.Duration
	Audit    audit.Retention
	Now      func() time.Time
}

// New makes a fresh, empty backend, not yet running. The suite runs and
// closes it.
type New func(t *testing.T, o Options) store.Backend

// running is a backend under test whose Run goroutine stop ends.
type running struct {
	store.Backend
	stop func()
}

// start makes a backend and runs it until stop or the end of the test,
// then closes it.
func start(t *testing.T, newBackend New, o Options) running {
	t.Helper()
	b := newBackend(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of its context's end")
		}
	}
	t.Cleanup(func() {
		stop()
		if err := b.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return running{Backend: b, stop: stop}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rec is a sample with a different value in every field, so a store that
// mixes fields up fails the round trip.
func rec(sec int, queued uint64) metrics.Record {
	r := metrics.Record{ReceivedAt: t0.Add(time.Duration(sec) * time.Second)}
	for i, f := range metrics.Fields() {
		f.Set(&r.Sample, uint64(i+1)<<40+queued)
	}
	r.NrQueued, r.NrUserDispatches, r.UserschedPID = queued, 1<<63+queued, 4294967295
	return r
}

// Run runs the suite.
func Run(t *testing.T, newBackend New) {
	ctx := context.Background()
	t.Run("history round trip, order, range, limit", func(t *testing.T) {
		now := t0.Add(time.Hour)
		s := stores(start(t, newBackend, Options{MaxCount: 1000, MaxAge: 24 * time.Hour, Now: func() time.Time { return now }}))
		if _, ok, err := s.History.Latest(ctx); err != nil || ok {
			t.Fatalf("Latest on empty = %v, %v", ok, err)
		}
		if err := s.History.Append(ctx, []metrics.Record{rec(1, 1), rec(2, 2)}); err != nil {
			t.Fatal(err)
		}
		if err := s.History.Append(ctx, []metrics.Record{rec(3, 3)}); err != nil {
			t.Fatal(err)
		}
		got, more, err := s.History.Range(ctx, metrics.Query{})
		if err != nil || more || len(got) != 3 {
			t.Fatalf("Range = %d records, more %v, err %v", len(got), more, err)
		}
		if got[0] != rec(1, 1) || got[2] != rec(3, 3) {
			t.Errorf("records came back changed or out of order: %+v", got)
		}
		got, more, _ = s.History.Range(ctx, metrics.Query{Since: rec(2, 0).ReceivedAt, Limit: 1})
		if len(got) != 1 || got[0].NrQueued != 2 || !more {
			t.Errorf("since+limit = %+v more %v", got, more)
		}
		got, _, _ = s.History.Range(ctx, metrics.Query{Until: rec(2, 0).ReceivedAt})
		if len(got) != 1 || got[0].NrQueued != 1 {
			t.Errorf("until is exclusive: %+v", got)
		}
		last, ok, err := s.History.Latest(ctx)
		if err != nil || !ok || last != rec(3, 3) {
			t.Errorf("Latest = %+v, %v, %v", last, ok, err)
		}
	})
	t.Run("history age bound", func(t *testing.T) {
		now := t0.Add(10 * time.Second)
		s := stores(start(t, newBackend, Options{MaxCount: 1000, MaxAge: 5 * time.Second, Now: func() time.Time { return now }}))
		if err := s.History.Append(ctx, []metrics.Record{rec(1, 1), rec(8, 8)}); err != nil {
			t.Fatal(err)
		}
		got, _, _ := s.History.Range(ctx, metrics.Query{})
		if len(got) != 1 || got[0].NrQueued != 8 {
			t.Errorf("records older than the age bound were returned: %+v", got)
		}
	})
	t.Run("history count bound holds at every moment", func(t *testing.T) { testCountBound(t, newBackend) })
	t.Run("strategies", func(t *testing.T) {
		s := stores(start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now}))
		list, v0, err := s.Strategies.List(ctx)
		if err != nil || len(list) != 0 {
			t.Fatalf("empty List = %v, %v", list, err)
		}
		// Priorities in each written form (true, the integers 0 and 3):
		// the comparisons below hold each to reading back as written.
		a := strategy.Strategy{Name: "a", Priority: strategy.BoolPriority(true), ExecutionTime: 1000, PID: 7}
		b := strategy.Strategy{Name: "b", Priority: strategy.LevelPriority(0), ExecutionTime: 2000, CommandRegex: "x", Threads: true, Namespaces: []string{"n"}}
		if before, err := s.Strategies.Replace(ctx, []strategy.Strategy{a, b}); err != nil || len(before) != 0 {
			t.Fatalf("Replace on empty = %+v, %v; want nothing replaced", before, err)
		}
		list, v1, _ := s.Strategies.List(ctx)
		if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" || !list[1].Threads || list[1].Namespaces[0] != "n" || v1 == v0 {
			t.Fatalf("after Replace: %+v v%d", list, v1)
		}
		c := strategy.Strategy{Name: "c", Priority: strategy.LevelPriority(3), ExecutionTime: 3000, PID: 9}
		var admitted []strategy.Strategy // what admit was last asked about
		atMost := func(n int) func([]strategy.Strategy) error {
			return func(list []strategy.Strategy) error {
				admitted = list
				if len(list) > n {
					return apperr.Errorf(apperr.Invalid, "strategies: %d, at most %d allowed", len(list), n)
				}
				return nil
			}
		}
		if prev, created, err := s.Strategies.Put(ctx, c, atMost(3)); err != nil || !created || !reflect.DeepEqual(prev, strategy.Strategy{}) {
			t.Fatalf("Put new = %+v, %v, %v; want created, nothing replaced", prev, created, err)
		}
		if want := []strategy.Strategy{a, b, c}; !reflect.DeepEqual(admitted, want) {
			t.Errorf("Put new asked admit about %+v, want the list it stores %+v", admitted, want)
		}
		a2 := a
		a2.ExecutionTime = 5000
		if prev, created, err := s.Strategies.Put(ctx, a2, atMost(3)); err != nil || created || !reflect.DeepEqual(prev, a) {
			t.Fatalf("Put existing = %+v, %v, %v; want %+v replaced", prev, created, err, a)
		}
		if want := []strategy.Strategy{a2, b, c}; !reflect.DeepEqual(admitted, want) {
			t.Errorf("Put existing asked admit about %+v, want the list it stores %+v", admitted, want)
		}
		if _, created, err := s.Strategies.Put(ctx, strategy.Strategy{Name: "d", ExecutionTime: 1000, PID: 1}, atMost(3)); apperr.CodeOf(err) != apperr.Invalid || created ||
			!strings.Contains(err.Error(), "at most 3 allowed") {
			t.Errorf("Put over the bound = %v, %v; want not created, admit's error", created, err)
		}
		refused := errors.New("refused")
		if _, _, err := s.Strategies.Put(ctx, strategy.Strategy{Name: "a", ExecutionTime: 9000, PID: 1}, func([]strategy.Strategy) error {
			return apperr.Wrap(apperr.Invalid, refused, "refused")
		}); !errors.Is(err, refused) {
			t.Errorf("Put refused by admit = %v, want admit's error", err)
		}
		list, _, _ = s.Strategies.List(ctx)
		if len(list) != 3 || list[0].ExecutionTime != 5000 || list[2].Name != "c" {
			t.Errorf("order after puts: %+v", list)
		}
		if prev, err := s.Strategies.Delete(ctx, "b"); err != nil || !reflect.DeepEqual(prev, b) {
			t.Fatalf("Delete = %+v, %v; want %+v", prev, err, b)
		}
		if _, err := s.Strategies.Delete(ctx, "b"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("Delete missing = %v", err)
		}
		list, _, _ = s.Strategies.List(ctx)
		if len(list) != 2 || list[0].Name != "a" || list[1].Name != "c" {
			t.Errorf("after delete: %+v", list)
		}
		before, err := s.Strategies.Replace(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := []strategy.Strategy{a2, c}; !reflect.DeepEqual(before, want) {
			t.Errorf("Replace(nil) replaced %+v, want %+v", before, want)
		}
		if list, _, _ := s.Strategies.List(ctx); len(list) != 0 {
			t.Errorf("Replace(nil) left %+v", list)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := stores(start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now}))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.History.Append(cctx, []metrics.Record{rec(1, 1)})
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Append on a cancelled context = %v", err)
		}
	})
	t.Run("summary", func(t *testing.T) { testSummary(t, newBackend) })
	t.Run("audit", func(t *testing.T) { testAudit(t, newBackend) })
	t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, newBackend) })
	t.Run("changes", func(t *testing.T) { testChanges(t, newBackend) })
	t.Run("secrets", func(t *testing.T) { testSecrets(t, newBackend) })
}

// testCountBound: no reader ever sees more samples than the count bound,
// not only after a retention run: every Append keeps it, dropping the
// oldest, and the newest are all kept.
func testCountBound(t *testing.T, newBackend New) {
	ctx := context.Background()
	const bound = 50
	now := t0.Add(time.Hour)
	b := start(t, newBackend, Options{MaxCount: bound, MaxAge: 24 * time.Hour, Now: func() time.Time { return now }})
	h := b.History()
	stop := make(chan struct{})
	seen := make(chan int, 1)
	go func() { // a reader all along
		most := 0
		defer func() { seen <- most }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, _, err := h.Range(ctx, metrics.Query{})
			if err != nil {
				t.Error(err)
				return
			}
			most = max(most, len(got))
		}
	}()
	next := 0
	for range 20 {
		batch := make([]metrics.Record, 30)
		for i := range batch {
			next++
			batch[i] = rec(next, uint64(next))
		}
		if err := h.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		got, _, err := h.Range(ctx, metrics.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if want := min(next, bound); len(got) != want || got[len(got)-1].NrQueued != uint64(next) || got[0].NrQueued != uint64(next-want+1) {
			t.Fatalf("after %d appended: %d samples from %d to %d; want the newest %d", next, len(got), got[0].NrQueued, got[len(got)-1].NrQueued, want)
		}
	}
	close(stop)
	if most := <-seen; most > bound {
		t.Errorf("a reader saw %d samples; the bound is %d", most, bound)
	}
}

// storePair is the two stores of a backend.
type storePair struct {
	History    metrics.History
	Strategies strategy.Store
}

func stores(b running) storePair { return storePair{History: b.History(), Strategies: b.Strategies()} }

// testLifecycle: a running backend is healthy; once Run has returned,
// Append stores or fails as Unavailable, promptly, and strategies still
// read until Close.
func testLifecycle(t *testing.T, newBackend New) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	b := start(t, newBackend, Options{MaxCount: 10, MaxAge: 24 * time.Hour, Now: func() time.Time { return now }})
	if r := b.Health(ctx); r.State != health.OK || r.Detail == "" {
		t.Errorf("Health = %+v, want OK with a detail", r)
	}
	if (b.Changes() != nil) != b.Shared() {
		t.Errorf("Changes() = %v with Shared() = %v; want a change source exactly when shared", b.Changes(), b.Shared())
	}
	if _, err := b.Strategies().Replace(ctx, []strategy.Strategy{{Name: "a", ExecutionTime: 1000, PID: 7}}); err != nil {
		t.Fatal(err)
	}
	b.stop()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := b.History().Append(actx, []metrics.Record{rec(1, 1)})
	if err != nil && apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("Append after Run returned = %v, want success or Unavailable", err)
	}
	if list, _, err := b.Strategies().List(ctx); err != nil || len(list) != 1 {
		t.Errorf("List after Run returned = %+v, %v", list, err)
	}
	if _, err := b.Audit().Append(ctx, refusal(t0, 401)); err != nil {
		t.Errorf("audit Append after Run returned = %v", err)
	}
}

// testChanges: a shared backend's change source tells of its own writes
// too, within a bounded time.
func testChanges(t *testing.T, newBackend New) {
	ctx := context.Background()
	b := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
	if b.Changes() == nil {
		t.Skip("not a shared backend: no change source")
	}
	changes, stop := b.Changes().SubscribeStrategies()
	defer stop()
	if _, err := b.Strategies().Replace(ctx, []strategy.Strategy{{Name: "a", ExecutionTime: 1000, PID: 7}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notice within 5s of a Replace")
	}
}
