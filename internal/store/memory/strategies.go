package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Strategies is a strategy.Store in process memory. The zero value is
// empty and ready to use. Safe for concurrent use; lists it returns are
// copies the caller owns.
type Strategies struct {
	mu      sync.RWMutex
	list    []strategy.Strategy
	version uint64
}

var _ strategy.Store = (*Strategies)(nil)

// List implements strategy.Store.
func (m *Strategies) List(context.Context) ([]strategy.Strategy, uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.list), m.version, nil
}

// Replace implements strategy.Store.
func (m *Strategies) Replace(_ context.Context, list []strategy.Strategy) ([]strategy.Strategy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	before := m.list // never modified in place: every write makes a new slice
	m.list = slices.Clone(list)
	m.version++
	return before, nil
}

// Put implements strategy.Store.
func (m *Strategies) Put(_ context.Context, s strategy.Strategy, admit func([]strategy.Strategy) error) (strategy.Strategy, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := slices.Clone(m.list) // never modified in place: lists handed out stay as they were
	i := slices.IndexFunc(next, func(o strategy.Strategy) bool { return o.Name == s.Name })
	if i >= 0 {
		next[i] = s
	} else {
		next = append(next, s)
	}
	if err := admit(next); err != nil {
		return strategy.Strategy{}, false, err
	}
	var prev strategy.Strategy
	if i >= 0 {
		prev = m.list[i]
	}
	m.list = next
	m.version++
	return prev, i < 0, nil
}

// Delete implements strategy.Store.
func (m *Strategies) Delete(_ context.Context, name string) (strategy.Strategy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.list, func(s strategy.Strategy) bool { return s.Name == name })
	if i < 0 {
		return strategy.Strategy{}, apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
	}
	prev := m.list[i]
	m.list = slices.Delete(slices.Clone(m.list), i, i+1)
	m.version++
	return prev, nil
}
