package strategy

import "context"

// Store keeps the strategy definitions. Implementations are safe for
// concurrent use, return copies the caller may keep, and change nothing
// when they return an error. The backends are in internal/store.
type Store interface {
	// List returns the strategies in order and the store's version, which
	// moves with every change.
	List(ctx context.Context) ([]Strategy, uint64, error)
	// Replace swaps the whole list atomically.
	Replace(ctx context.Context, list []Strategy) error
	// Put replaces the strategy of the same name in place, or appends it;
	// created reports which, and is false whenever err is not nil. It
	// refuses to grow past max.
	Put(ctx context.Context, s Strategy, max int) (created bool, err error)
	// Delete removes the named strategy; a missing name is NotFound.
	Delete(ctx context.Context, name string) error
}
