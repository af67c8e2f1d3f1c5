package strategy

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/bss-api/bss-api/internal/apperr"
)

// recordingAuditor keeps the changes reported to it.
type recordingAuditor struct {
	mu      sync.Mutex
	changes []Change
	keys    []any // the value of ctxKey in each report's context
}

type ctxKey struct{}

func (a *recordingAuditor) StrategiesChanged(ctx context.Context, c Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.changes = append(a.changes, c)
	a.keys = append(a.keys, ctx.Value(ctxKey{}))
}

// Every committed write is reported once, with what it replaced and what
// it stored (stamps included), in the request's context; refused writes
// are not reported.
func TestServiceReportsChanges(t *testing.T) {
	aud := &recordingAuditor{}
	f := startFixture(t, fixtureOptions{max: 3, service: ServiceOptions{Audit: aud, Shared: true}})
	ctx := context.WithValue(context.Background(), ctxKey{}, "request-1")
	svc := f.service

	a := Strategy{Name: "a", ExecutionTime: 1000, CommandRegex: "ping"}
	b := Strategy{Name: "b", ExecutionTime: 1000, PID: 7} // stamped with the node: the store is shared
	if _, err := svc.ReplaceAll(ctx, []Strategy{a, b}); err != nil {
		t.Fatal(err)
	}
	stampedB := b
	stampedB.Nodes = []string{testNode}
	a2 := a
	a2.ExecutionTime = 2000
	if _, err := svc.Put(ctx, a2); err != nil {
		t.Fatal(err)
	}
	c := Strategy{Name: "c", ExecutionTime: 1000, CommandRegex: "x"}
	if _, err := svc.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReplaceAll(ctx, []Strategy{a2, c}); err != nil {
		t.Fatal(err)
	}
	// Refused: invalid, over the bound, missing. None is reported.
	if _, err := svc.Put(ctx, Strategy{Name: "bad", ExecutionTime: 1}); err == nil {
		t.Fatal("invalid put accepted")
	}
	if _, err := svc.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1}}); err == nil {
		t.Fatal("invalid list accepted")
	}
	if err := svc.Delete(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("delete missing = %v", err)
	}

	want := []Change{
		{Before: nil, After: []Strategy{a, stampedB}},
		{Before: []Strategy{a}, After: []Strategy{a2}},
		{After: []Strategy{c}, Created: true},
		{Before: []Strategy{stampedB}},
		{Before: []Strategy{a2, c}, After: []Strategy{a2, c}},
	}
	if len(aud.changes) != len(want) {
		t.Fatalf("%d changes reported, want %d: %+v", len(aud.changes), len(want), aud.changes)
	}
	for i, got := range aud.changes {
		if len(got.Before) == 0 && len(want[i].Before) == 0 {
			got.Before = want[i].Before // nil and empty both mean nothing before
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("change %d = %+v\nwant %+v", i, got, want[i])
		}
		if aud.keys[i] != "request-1" {
			t.Errorf("change %d reported without the request's context", i)
		}
	}
}
