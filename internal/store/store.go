// Package store opens the configured storage backend: memory (lost on
// exit), SQLite (the embedded default) or PostgreSQL (shared by nodes).
// Backend is the one contract they all keep; storetest is the conformance
// suite that checks it.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/store/sqlstore"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Backend is one storage backend: the metric history, the strategy
// definitions and the audit trail of this node, and the server's own
// secrets, with their lifecycle. All its methods, and those of the stores
// it returns, are safe for concurrent use.
//
// Ownership: slices passed to the stores are neither kept nor modified;
// slices and strategies they return are copies that belong to the caller.
//
// Lifecycle: Open returns a Backend whose reads and strategy writes work
// at once. Run does the background work (committing metric appends in
// groups, enforcing retention, listening for changes made through other
// nodes) and must be running for Append to complete on a durable backend;
// the owner starts it once, before serving requests, and stops it after
// the last request that may write has finished. Close releases the
// backend after Run has returned (or when it never ran); no method may be
// called after Close.
type Backend interface {
	// History is the metric history. Its Append returns only once the
	// records are stored (durably, on a durable backend).
	History() metrics.History
	// Strategies is the strategy store.
	Strategies() strategy.Store
	// Audit is the audit trail: on a shared backend, every node's records,
	// each with its node. Its writes, like strategy writes, work without
	// Run; Run's retention job prunes it.
	Audit() audit.Store
	// Pods keeps each node's last known pod metadata, keyed by node
	// (nodes sharing a database each keep their own). Like Secret, it
	// works from Open to Close, whether or not Run is running.
	Pods() kube.PodStore
	// Changes tells of strategy changes made through other nodes; it is
	// nil unless Shared.
	Changes() strategy.ChangeSource
	// Shared reports whether several nodes share the backend: each then
	// sees only its own metric history, and all see the same strategies.
	Shared() bool
	// Secret returns the secret value called name. When there is none it
	// stores what generate returns and returns that. Creation is atomic:
	// of callers racing to create the same name (in this process or, on a
	// shared database, on other nodes) one value wins and every caller
	// gets it; generate may still have been called by each of them. When
	// generate fails nothing is stored and its error is returned. A stored
	// secret never changes. Values are kept as given, in the clear, so the
	// data directory or database deserves the care of the secret itself;
	// they live as long as the backend's data (the memory backend's die
	// with the process). It works from Open to Close, whether or not Run
	// is running. The returned slice is the caller's.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
	// Health reports whether the backend can serve; Down means reads and
	// writes fail (with apperr.Unavailable) until it recovers. It returns
	// within a few seconds whatever the backend's state.
	Health(ctx context.Context) health.Report
	// Run works until ctx is cancelled, then fails the appends still
	// waiting for a commit, and returns once every goroutine it started
	// has stopped. From then on Append may fail with apperr.Unavailable
	// (it never stores part of a batch); reads and strategy writes work
	// until Close. A commit already under way when ctx is cancelled
	// finishes on SQLite; on PostgreSQL it may be cancelled, so that a
	// hung server cannot hang the shutdown, and its requests then fail.
	Run(ctx context.Context) error
	// Close releases the backend's resources. Call it once, after Run has
	// returned.
	Close() error
}

var (
	_ Backend = (*memory.Store)(nil)
	_ Backend = (*sqlstore.Store)(nil)
)

// Kinds of backend, as config.Config.StoreKind names them.
const (
	Memory   = "memory"
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options configure a Backend.
type Options struct {
	Node     string        // this node's name, written on every metric row
	MaxAge   time.Duration // metric retention by age
	MaxCount int           // metric retention by count (of this node's rows)
	// RetainEvery is the period of the retention job; default 1 min.
	RetainEvery time.Duration
	Audit       audit.Retention // audit trail retention
	Logger      *slog.Logger
	Now         func() time.Time
	// Lock is what Lock returned; Open's backend owns it from then on,
	// and Open releases it if it fails.
	Lock *sqlstore.Lock
}

// Lock takes what keeps a second server off the backend's data before
// anything else is done, so that it fails at once, naming the server in
// the way: for SQLite the database's lock (see sqlstore.LockSQLite). It
// returns nil for the other kinds (the memory is the process's own, and
// several nodes share a PostgreSQL database by design), and when the
// database's directory does not exist yet: no server uses it then, and
// nothing is created before the rest of the configuration is checked
// (Open takes the lock). Pass the lock to Open in Options.Lock, or
// Release it.
func Lock(kind, path string) (*sqlstore.Lock, error) {
	if kind != SQLite {
		return nil, nil
	}
	if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	l, err := sqlstore.LockSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return l, nil
}

// Open builds the backend of kind: memory (path unused), sqlite (path is
// the database file, created if needed) or postgres (path is the
// connection URL). A durable backend's schema is migrated first; a
// database written by a newer bss-api is refused untouched. Open starts
// no goroutine: that is Run's job.
func Open(ctx context.Context, kind, path string, opts Options) (Backend, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sqlOpts := sqlstore.Options{
		Node: opts.Node, MaxAge: opts.MaxAge, MaxCount: opts.MaxCount, RetainEvery: opts.RetainEvery, Audit: opts.Audit,
		Logger: log.With("component", "store"), Now: opts.Now, Lock: opts.Lock,
	}
	if kind != SQLite {
		_ = opts.Lock.Release() // Lock takes one for SQLite only
	}
	switch kind {
	case Memory:
		log.Warn("memory store: strategies, metric history and the audit trail are lost when the server stops", "store", Memory)
		return memory.New(opts.MaxCount, opts.MaxAge, opts.Now, opts.Audit), nil
	case SQLite:
		s, err := sqlstore.OpenSQLite(ctx, path, sqlOpts)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		log.Info("store", "store", SQLite, "path", path, "schema_version", s.SchemaVersion())
		return s, nil
	case Postgres:
		s, err := sqlstore.OpenPostgres(ctx, path, sqlOpts)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		log.Info("store", "store", Postgres)
		return s, nil
	}
	return nil, fmt.Errorf("store: unknown kind %q: want memory, sqlite or postgres", kind)
}
