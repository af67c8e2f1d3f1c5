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
func (m *Strategies) Put(_ context.Context, s strategy.Strategy, max int) (strategy.Strategy, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.list {
		if m.list[i].Name == s.Name {
			prev := m.list[i]
			m.list = slices.Clone(m.list)
			m.list[i] = s
			m.version++
			return prev, false, nil
		}
	}
	if len(m.list) >= max {
		return strategy.Strategy{}, false, apperr.Errorf(apperr.Invalid, "strategies: %d stored, at most %d allowed", len(m.list), max)
	}
	m.list = append(slices.Clone(m.list), s)
	m.version++
	return strategy.Strategy{}, true, nil
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
