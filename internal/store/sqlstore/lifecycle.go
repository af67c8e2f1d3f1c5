package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/groupcommit"
	"github.com/bss-api/bss-api/internal/strategy"
)

// open migrates the database behind write and read and returns a Store
// over it. listen is nil unless the database is shared. On error the
// caller closes what it opened.
func open(ctx context.Context, d dialect, write, read *sql.DB, listen *listener, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetainEvery <= 0 {
		opts.RetainEvery = time.Minute
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = defaultCheckEvery
	}
	if opts.ProbeIdle <= 0 {
		opts.ProbeIdle = defaultProbeIdle
	}
	s := &Store{opts: opts, log: opts.Logger, d: d, write: write, read: read, listen: listen}
	latest, err := s.migrate(ctx, opts.targetVersion)
	if err != nil {
		return nil, err
	}
	if s.schema == latest {
		if s.layout, err = s.storedLayout(ctx); err != nil {
			return nil, err
		}
	}
	s.q = buildQueries(d, d.sampleColumns(s.layout), listen != nil)
	s.aq = buildAuditQueries(d)
	if s.schema == latest {
		if err := s.prepareBound(ctx); err != nil {
			return nil, err
		}
		// The bounds hold from the start, also after they were lowered.
		if _, err := s.retain(ctx); err != nil {
			return nil, fmt.Errorf("bound the metric history: %w", err)
		}
	}
	s.group = groupcommit.New(s.commit)
	if listen != nil {
		listen.log, listen.version = s.log, s.version
		if s.schema == latest {
			v, err := s.version(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the strategies version: %w", err)
			}
			s.listen.seen = v
		}
	}
	return s, nil
}

// Run commits metric appends in groups, enforces the retention of metrics
// and audit records and, on a shared database, listens for strategy
// changes made through other nodes, until ctx is cancelled. Appends still queued then, and made after, fail
// with apperr.Unavailable. It returns after every goroutine it started
// has stopped.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.group.Run(ctx) })
	if s.listen != nil {
		wg.Go(func() { s.listen.run(ctx) })
	}
	s.wh.mu.Lock()
	s.wh.last = time.Now() // Open wrote
	s.wh.mu.Unlock()
	tick := time.NewTicker(s.opts.RetainEvery)
	defer tick.Stop()
	check := time.NewTicker(s.opts.CheckEvery)
	defer check.Stop()
	for {
		s.retainAll(ctx)
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return nil
			case <-check.C:
				s.check(ctx)
			case <-tick.C:
				waiting = false
			}
		}
	}
}

// retainAll is one run of the retention job. Its failures count as
// failed writes, but its successes do not count as writes that succeed:
// it may have written nothing, or little, where a sample needs more.
func (s *Store) retainAll(ctx context.Context) {
	if s.refuseWrite() != nil {
		return
	}
	for _, job := range []struct {
		what string
		run  func(context.Context) error
	}{
		{"metric retention", func(ctx context.Context) error { _, err := s.retain(ctx); return err }},
		{"audit retention", s.retainAudit},
		{"giving the space of deleted rows back", func(ctx context.Context) error { return s.d.reclaim(ctx, s.log) }},
	} {
		err := job.run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			continue
		}
		if err = s.wrote(err); err != nil {
			if s.refuseWrite() == nil { // else the refusal was logged
				s.log.Error(job.what+" failed", "err", err)
			}
			return
		}
	}
}

// Close closes the database. Run must have returned (or never started).
func (s *Store) Close() error {
	errs := []error{s.d.close()}
	for _, st := range s.prepared {
		errs = append(errs, st.Close())
	}
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(append(errs, s.d.release())...)
}

// SchemaVersion is the database's schema version after Open migrated it.
func (s *Store) SchemaVersion() int { return s.schema }

// History returns s.
func (s *Store) History() metrics.History { return s }

// Strategies returns s.
func (s *Store) Strategies() strategy.Store { return s }

// Changes returns s on a shared database, nil otherwise.
func (s *Store) Changes() strategy.ChangeSource {
	if s.listen == nil {
		return nil
	}
	return s
}

// Shared reports whether several nodes may use the database.
func (s *Store) Shared() bool { return s.listen != nil }

// SubscribeStrategies implements strategy.ChangeSource: on a shared
// database the channel receives a value after strategy changes, made
// through this node or another one. On a database of one node the
// channel is nil (never ready).
func (s *Store) SubscribeStrategies() (<-chan struct{}, func()) {
	if s.listen == nil {
		return nil, func() {}
	}
	return s.listen.changes.Subscribe()
}

// unavailable classifies a database failure for the HTTP layer: 503.
func unavailable(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "the store cannot "+what+"; retry later")
}
