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

func (f *fakeStore) Replace(_ context.Context, list []Strategy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = slices.Clone(list)
	f.version++
	return nil
}

func (f *fakeStore) Put(_ context.Context, s Strategy, max int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.IndexFunc(f.list, func(o Strategy) bool { return o.Name == s.Name }); i >= 0 {
		f.list[i] = s
		f.version++
		return false, nil
	}
	if len(f.list) >= max {
		return false, apperr.Errorf(apperr.Invalid, "strategies: %d stored, at most %d allowed", len(f.list), max)
	}
	f.list = append(f.list, s)
	f.version++
	return true, nil
}

func (f *fakeStore) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.list, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
	}
	f.list = slices.Delete(f.list, i, i+1)
	f.version++
	return nil
}
