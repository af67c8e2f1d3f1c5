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

func (f *fakeStore) Put(_ context.Context, s Strategy, admit func([]Strategy) error) (Strategy, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := slices.Clone(f.list)
	i := slices.IndexFunc(next, func(o Strategy) bool { return o.Name == s.Name })
	if i >= 0 {
		next[i] = s
	} else {
		next = append(next, s)
	}
	if err := admit(next); err != nil {
		return Strategy{}, false, err
	}
	var prev Strategy
	if i >= 0 {
		prev = f.list[i]
	}
	f.list = next
	f.version++
	return prev, i < 0, nil
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
