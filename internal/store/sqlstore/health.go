package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/health"
)

// A store learns whether it can write from its writes: the result of
// each one (metric commits, strategy writes, audit records, secrets,
// retention) and, when it has written nothing for probeIdle, of a write
// probe (a counter moved in a transaction of its own; on SQLite, fresh
// space asked of the file system too). A failed write makes the store
// Down, and /readyz not ready; the next write that succeeds makes it OK
// again. A database file that is no longer the one the store opened
// (deleted, replaced), or no longer sound (truncated, overwritten,
// corrupt), is worse: the store refuses every write from then on, with
// 503, until a restart. Each change of state is logged once.

// Periods of the store's checks, unless Options say otherwise.
const (
	defaultCheckEvery = time.Second      // files checked; probe while writes fail
	defaultProbeIdle  = 10 * time.Second // probe after this long without a write
)

// writeHealth is what the store knows of its writes. Safe for concurrent
// use.
type writeHealth struct {
	mu      sync.Mutex
	failing error     // the last write's failure; nil when it succeeded
	since   time.Time // when writes started failing
	last    time.Time // when the last write was made
	problem *fileProblem
}

// refuseWrite returns the refusal of every write once the database file
// has a problem, else nil.
func (s *Store) refuseWrite() error {
	s.wh.mu.Lock()
	p := s.wh.problem
	s.wh.mu.Unlock()
	if p == nil {
		return nil
	}
	return refusal(p)
}

func refusal(p *fileProblem) error {
	return apperr.Wrap(apperr.Unavailable, p,
		"the store refuses writes: its database file "+p.what+"; "+p.fix)
}

// wrote records the outcome of a write and returns the error to give its
// caller: nil, the caller's own error (a broken rule, a missing name), or
// an Unavailable error saying what failed.
func (s *Store) wrote(err error) error {
	if err == nil {
		s.writeSucceeded()
		return nil
	}
	if p, ok := errors.AsType[*fileProblem](err); ok {
		s.fileFailed(p)
		return refusal(p)
	}
	if c := apperr.CodeOf(err); c != apperr.Internal && c != apperr.Unavailable {
		return err // the request's fault, not the store's
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return unavailable(err, "be written") // the caller gave up; nothing is known of the store
	}
	cause, corrupt := s.d.classify(err)
	if corrupt != nil {
		s.fileFailed(corrupt)
		return refusal(corrupt)
	}
	s.writeFailed(err, cause)
	msg := "the store cannot be written; retry later"
	if cause != "" {
		msg = "the store cannot be written (" + cause + "); retry later"
	}
	return apperr.Wrap(apperr.Unavailable, err, msg)
}

// readFailed classifies a failed read: a corrupt database makes the store
// refuse writes, as a failed write would; other failures are Unavailable.
func (s *Store) readFailed(err error) error {
	if _, corrupt := s.d.classify(err); corrupt != nil {
		return s.wrote(err)
	}
	return unavailable(err, "be read")
}

// writeSucceeded and writeFailed log a change of state before anyone can
// see it, as fileFailed does.
func (s *Store) writeSucceeded() {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	if s.wh.failing != nil {
		s.log.Info("store writes succeed again", "store", s.d.describe(), "failed_for", time.Since(s.wh.since).Round(time.Millisecond))
	}
	s.wh.failing, s.wh.last = nil, time.Now()
}

func (s *Store) writeFailed(err error, cause string) {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	if s.wh.failing == nil {
		s.wh.since = time.Now()
		s.log.Error("store writes fail: the store is down until one succeeds", "store", s.d.describe(), "cause", cause, "err", err)
	}
	s.wh.failing, s.wh.last = err, time.Now()
}

// fileFailed makes the store refuse writes. The first problem is logged
// before any write can be refused for it.
func (s *Store) fileFailed(p *fileProblem) {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	if s.wh.problem == nil {
		s.wh.problem = p
		s.log.Error(p.Error()+": every write is refused until the server restarts", "path", p.path, "fix", p.fix)
	}
}

// check is the periodic look at the store: the files, then a write probe
// when writes fail or none was made for a while.
func (s *Store) check(ctx context.Context) {
	s.wh.mu.Lock()
	problem, failing, idle := s.wh.problem, s.wh.failing, time.Since(s.wh.last)
	s.wh.mu.Unlock()
	if problem != nil {
		return
	}
	if err := s.d.verifyNow(ctx); err != nil {
		_ = s.wrote(err)
		return
	}
	if failing != nil || idle >= s.opts.ProbeIdle {
		if err := s.probe(ctx); ctx.Err() == nil {
			_ = s.wrote(err)
		}
	}
}

// probe writes a counter in a transaction of its own, then asks the
// dialect for its own probe of space.
func (s *Store) probe(ctx context.Context) error {
	err := s.writeIn(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'write_probe'`)
		return err
	})
	if err != nil {
		return err
	}
	return s.d.probeSpace()
}

// writeIn runs fn in a write transaction and commits it, making sure
// before the commit, and after, that the database file is still the one
// the store writes.
func (s *Store) writeIn(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := s.d.verify(true); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.d.verify(false)
}

// Health reports Down while writes fail or are refused, else whether the
// database answers, within 2 s.
func (s *Store) Health(ctx context.Context) health.Report {
	s.wh.mu.Lock()
	problem, failing, since := s.wh.problem, s.wh.failing, s.wh.since
	s.wh.mu.Unlock()
	switch {
	case problem != nil:
		return health.Report{State: health.Down, Detail: fmt.Sprintf("%s: writes refused: %s; %s", s.d.describe(), problem.what, problem.fix)}
	case failing != nil:
		return health.Report{State: health.Down, Detail: fmt.Sprintf("%s: writes fail, since %s: %v",
			s.d.describe(), since.UTC().Format(time.RFC3339), failing)}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	var samples int64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM strategies`).Scan(&n); err != nil {
		return health.Report{State: health.Down, Detail: s.d.describe() + ": " + err.Error()}
	}
	if err := s.read.QueryRowContext(ctx, s.q.countSamples, s.countNode()).Scan(&samples); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return health.Report{State: health.Down, Detail: s.d.describe() + ": " + err.Error()}
	}
	return health.Report{State: health.OK, Detail: fmt.Sprintf("%s: %d strategies, %d samples", s.d.describe(), n, samples)}
}
