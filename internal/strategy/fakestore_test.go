package strategy

import (
	"context"
	"slices"
	"sync"

	"github.com/bss-api/bss-api/internal/apperr"
)

// fakeStore is a Store in memory for this package's tests. The product's
// memory store (store/memory.Strategies) imports this package, so these
// tests cannot use it; the conformance suite holds both to one contract.
type fakeStore struct {
	mu      sync.Mutex
	list    []Strategy
	version uint64
}

func (f *fakeStore) List(context.Context) ([]Strategy, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list), f.version, nil
}

func (f *fakeStore) Replace(_ context.Context, list []Strategy) ([]Strategy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	before := f.list
	f.list = slices.Clone(list)
	f.version++
	return before, nil
}

func (f *fakeStore) Put(_ context.Context, s Strategy, max int) (Strategy, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.IndexFunc(f.list, func(o Strategy) bool { return o.Name == s.Name }); i >= 0 {
		prev := f.list[i]
		f.list[i] = s
		f.version++
		return prev, false, nil
	}
	if len(f.list) >= max {
		return Strategy{}, false, apperr.Errorf(apperr.Invalid, "strategies: %d stored, at most %d allowed", len(f.list), max)
	}
	f.list = append(f.list, s)
	f.version++
	return Strategy{}, true, nil
}

func (f *fakeStore) Delete(_ context.Context, name string) (Strategy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.list, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return Strategy{}, apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
	}
	prev := f.list[i]
	f.list = slices.Delete(f.list, i, i+1)
	f.version++
	return prev, nil
}
