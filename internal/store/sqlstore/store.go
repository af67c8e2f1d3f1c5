// Package sqlstore is the SQL store: metric history, strategy
// definitions and the audit trail in SQLite (the embedded default, one file per node) or in
// PostgreSQL (one database that several nodes share). Both databases run
// the same code; what differs between them is a dialect, and dialect.go
// states every difference and its reason.
//
// Metric appends are group-committed: concurrent requests share one
// transaction, each answered after it commits. Strategy writes are their
// own transactions and move a version counter; on a shared database they
// also announce the change to the other nodes (listen.go).
//
// The files follow the entities: metrics.go (append, range, latest,
// retention) with layout.go (which counters a stored sample holds, in
// which order), strategies.go (list, replace, put, delete), audit.go (the
// audit trail: append, range, retention), secrets.go (get or create),
// lifecycle.go (open, run, close, health) with migrate.go, queries.go (the
// shared SQL), and one file per database: sqlite.go, postgres.go,
// listen.go.
package sqlstore

import (
	"database/sql"
	"log/slog"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/groupcommit"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Options configure a Store.
type Options struct {
	// Node is written on every metric row. On a shared database reads and
	// retention see only this node's rows.
	Node        string
	MaxAge      time.Duration // metric retention by age
	MaxCount    int           // metric retention by rows (of this node)
	RetainEvery time.Duration // period of the retention job; default 1 min
	// CheckEvery is the period of the look at the database's files, and
	// of the write probe while writes fail; default 1 s.
	CheckEvery time.Duration
	// ProbeIdle is how long without a write makes the store probe; default
	// 10 s.
	ProbeIdle time.Duration
	// Audit bounds the audit trail, which on a shared database holds the
	// records of every node.
	Audit  audit.Retention
	Logger *slog.Logger // default: discard
	Now    func() time.Time
	// Lock is the SQLite database's lock, when the caller took it
	// (LockSQLite); nil: OpenSQLite takes it.
	Lock *Lock
	// targetVersion stops migrations early; tests use it to build a
	// database of an older schema. Such a store is only good for writing
	// rows of that schema by hand and closing it.
	targetVersion int
}

// Store is metric history, strategies and the audit trail in one SQL
// database. It implements metrics.History, strategy.Store,
// strategy.ChangeSource and store.Backend (its audit.Store is Audit());
// see store.Backend for the lifecycle (Run must be running for appends to
// complete; Close after Run returned). Safe for concurrent use.
type Store struct {
	opts   Options
	log    *slog.Logger
	d      dialect
	write  *sql.DB // migrations, strategy writes; SQLite: its one writer connection
	read   *sql.DB // reads; PostgreSQL: the same pool as write
	q      queries
	aq     auditQueries
	layout []metrics.Field // the counters a stored sample holds, in stored order
	schema int             // schema version after migrating
	group  *groupcommit.Committer
	listen *listener // nil unless the database is shared
	wh     writeHealth
	// prepared are statements prepared on write, by query (bound.go).
	prepared map[string]*sql.Stmt
}

var (
	_ metrics.History       = (*Store)(nil)
	_ strategy.Store        = (*Store)(nil)
	_ strategy.ChangeSource = (*Store)(nil)
)
