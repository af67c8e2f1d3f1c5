package strategy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/bss-api/bss-api/internal/apperr"
)

// Store keeps the strategy definitions. Implementations are safe for
// concurrent use, return copies the caller may keep, and change nothing
// when they return an error.
type Store interface {
	// List returns the strategies in order and the store's version, which
	// moves with every change.
	List(ctx context.Context) ([]Strategy, uint64, error)
	// Replace swaps the whole list atomically.
	Replace(ctx context.Context, list []Strategy) error
	// Put replaces the strategy of the same name in place, or appends it;
	// created reports which. It refuses to grow past max.
	Put(ctx context.Context, s Strategy, max int) (created bool, err error)
	// Delete removes the named strategy; a missing name is NotFound.
	Delete(ctx context.Context, name string) error
}

// Rows is the part of a SQL query result (database/sql or pgx) that
// ScanStored reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanStored reads rows of one column, a strategy as a store saved it
// (JSON), in order. A failure to read rows is passed through readErr; a
// body that does not decode means the stored data is damaged, not that a
// client sent something wrong.
func ScanStored(rows Rows, readErr func(error) error) ([]Strategy, error) {
	var out []Strategy
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, readErr(err)
		}
		var s Strategy
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			return nil, fmt.Errorf("stored strategy is damaged: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(err)
	}
	return out, nil
}

// MemoryStore is a Store in process memory. The zero value is empty and
// ready to use.
type MemoryStore struct {
	mu      sync.RWMutex
	list    []Strategy
	version uint64
}

var _ Store = (*MemoryStore)(nil)

// List implements Store.
func (m *MemoryStore) List(context.Context) ([]Strategy, uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.list), m.version, nil
}

// Replace implements Store.
func (m *MemoryStore) Replace(_ context.Context, list []Strategy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = slices.Clone(list)
	m.version++
	return nil
}

// Put implements Store.
func (m *MemoryStore) Put(_ context.Context, s Strategy, max int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.list {
		if m.list[i].Name == s.Name {
			m.list = slices.Clone(m.list)
			m.list[i] = s
			m.version++
			return false, nil
		}
	}
	if len(m.list) >= max {
		return false, apperr.Errorf(apperr.Invalid, "strategies: %d stored, at most %d allowed", len(m.list), max)
	}
	m.list = append(slices.Clone(m.list), s)
	m.version++
	return true, nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.list, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
	}
	m.list = slices.Delete(slices.Clone(m.list), i, i+1)
	m.version++
	return nil
}
