package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Store is the memory backend (--store=memory): a History, a Strategies,
// an Audit, the server's secrets and the nodes' pod metadata, all lost
// when the process exits. It
// implements store.Backend. Safe for concurrent use; it needs no Run for
// its writes, which keep working after Run returned and even after Close.
type Store struct {
	history    *History
	strategies Strategies
	audit      *Audit
	secrets    secrets
	pods       pods
}

// New returns an empty memory backend whose history keeps at most
// maxCount records no older than maxAge, and whose audit trail keeps what
// auditKeep allows, as measured by now.
func New(maxCount int, maxAge time.Duration, now func() time.Time, auditKeep audit.Retention) *Store {
	return &Store{history: NewHistory(maxCount, maxAge, now), audit: NewAudit(auditKeep, now)}
}

// History returns the metric history.
func (s *Store) History() metrics.History { return s.history }

// Strategies returns the strategy store.
func (s *Store) Strategies() strategy.Store { return &s.strategies }

// Audit returns the audit trail.
func (s *Store) Audit() audit.Store { return s.audit }

// Changes returns nil: nothing else writes to process memory.
func (s *Store) Changes() strategy.ChangeSource { return nil }

// Shared reports false: the memory is this process's own.
func (s *Store) Shared() bool { return false }

// Health is always OK; it says how many samples are held.
func (s *Store) Health(context.Context) health.Report {
	return health.Report{State: health.OK, Detail: fmt.Sprintf("memory: %d samples (lost on exit)", s.history.Len())}
}

// Run has no background work: it waits for ctx to end.
func (s *Store) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close does nothing; the memory goes with the process.
func (s *Store) Close() error { return nil }
