package strategy

import "context"

// Store keeps the strategy definitions. Implementations are safe for
// concurrent use, return copies the caller may keep, and change nothing
// when they return an error. The backends are in internal/store. A
// backend that keeps definitions as JSON reads them with UnmarshalStored,
// so a definition it cannot read is listed as unreadable rather than
// failing the whole list.
//
// Each write returns what it replaced, read in the same transaction as
// the write, so the audit trail's "before" is exactly what the write
// changed even when writes of several nodes race.
type Store interface {
	// List returns the strategies in order and the store's version, which
	// moves with every change.
	List(ctx context.Context) ([]Strategy, uint64, error)
	// Replace swaps the whole list atomically and returns the list it
	// replaced, in order.
	Replace(ctx context.Context, list []Strategy) (before []Strategy, err error)
	// Put replaces the strategy of the same name in place, or appends it;
	// created reports which, and is false whenever err is not nil. prev is
	// the strategy it replaced (zero when created). Inside the write's
	// transaction it calls admit with the whole list the write would
	// store, in order (as List would return it), and when admit returns an
	// error, Put stores nothing and returns that error unchanged.
	Put(ctx context.Context, s Strategy, admit func(list []Strategy) error) (prev Strategy, created bool, err error)
	// Delete removes the named strategy and returns it; a missing name is
	// NotFound.
	Delete(ctx context.Context, name string) (Strategy, error)
}
