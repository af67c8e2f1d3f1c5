// Package storetest is the conformance suite every store backend passes:
// the memory stores, SQLite, and later PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Stores are the two stores of one backend, over one clock.
type Stores struct {
	History    metrics.History
	Strategies strategy.Store
}

// New makes fresh, empty stores that keep at most maxCount samples no
// older than maxAge by now. It registers its own cleanup.
type New func(t *testing.T, maxCount int, maxAge time.Duration, now func() time.Time) Stores

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
func Run(t *testing.T, newStores New) {
	ctx := context.Background()
	t.Run("history round trip, order, range, limit", func(t *testing.T) {
		now := t0.Add(time.Hour)
		s := newStores(t, 1000, 24*time.Hour, func() time.Time { return now })
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
		s := newStores(t, 1000, 5*time.Second, func() time.Time { return now })
		if err := s.History.Append(ctx, []metrics.Record{rec(1, 1), rec(8, 8)}); err != nil {
			t.Fatal(err)
		}
		got, _, _ := s.History.Range(ctx, metrics.Query{})
		if len(got) != 1 || got[0].NrQueued != 8 {
			t.Errorf("records older than the age bound were returned: %+v", got)
		}
	})
	t.Run("strategies", func(t *testing.T) {
		s := newStores(t, 10, time.Hour, time.Now)
		list, v0, err := s.Strategies.List(ctx)
		if err != nil || len(list) != 0 {
			t.Fatalf("empty List = %v, %v", list, err)
		}
		a := strategy.Strategy{Name: "a", Priority: true, ExecutionTime: 1000, PID: 7}
		b := strategy.Strategy{Name: "b", ExecutionTime: 2000, CommandRegex: "x", Threads: true, Namespaces: []string{"n"}}
		if err := s.Strategies.Replace(ctx, []strategy.Strategy{a, b}); err != nil {
			t.Fatal(err)
		}
		list, v1, _ := s.Strategies.List(ctx)
		if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" || !list[1].Threads || list[1].Namespaces[0] != "n" || v1 == v0 {
			t.Fatalf("after Replace: %+v v%d", list, v1)
		}
		c := strategy.Strategy{Name: "c", ExecutionTime: 3000, PID: 9}
		if created, err := s.Strategies.Put(ctx, c, 3); err != nil || !created {
			t.Fatalf("Put new = %v, %v", created, err)
		}
		a2 := a
		a2.ExecutionTime = 5000
		if created, err := s.Strategies.Put(ctx, a2, 3); err != nil || created {
			t.Fatalf("Put existing = %v, %v", created, err)
		}
		if _, err := s.Strategies.Put(ctx, strategy.Strategy{Name: "d", ExecutionTime: 1000, PID: 1}, 3); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Put over the bound = %v", err)
		}
		list, _, _ = s.Strategies.List(ctx)
		if len(list) != 3 || list[0].ExecutionTime != 5000 || list[2].Name != "c" {
			t.Errorf("order after puts: %+v", list)
		}
		if err := s.Strategies.Delete(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if err := s.Strategies.Delete(ctx, "b"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("Delete missing = %v", err)
		}
		list, _, _ = s.Strategies.List(ctx)
		if len(list) != 2 || list[0].Name != "a" || list[1].Name != "c" {
			t.Errorf("after delete: %+v", list)
		}
		if err := s.Strategies.Replace(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if list, _, _ := s.Strategies.List(ctx); len(list) != 0 {
			t.Errorf("Replace(nil) left %+v", list)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := newStores(t, 10, time.Hour, time.Now)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.History.Append(cctx, []metrics.Record{rec(1, 1)})
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Append on a cancelled context = %v", err)
		}
	})
}
