package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/bss-api/bss-api/internal/metrics"
)

// dialect is everything that differs between SQLite and PostgreSQL; the
// rest of the package is shared. Each difference and its reason:
//
//   - Placeholders: SQLite takes ?, PostgreSQL numbers them ($1, $2, …).
//     The shared SQL is written with ? and bound once at Open.
//   - Sharing: a SQLite file belongs to one node; a PostgreSQL database may
//     serve several, so its Store has a listener. When shared, metric rows
//     are read and retained per node, strategy writes are announced
//     (NOTIFY) and Run listens for the announcements of the others.
//   - The stored sample: SQLite packs the counters into one blob per row
//     (reading one column per row keeps hour-long history queries fast);
//     PostgreSQL has one BIGINT column per counter (readable by other
//     tools). Either way the schema says which counters are stored
//     (layout.go).
//   - Writing a group of metric rows: SQLite runs one prepared insert per
//     row on its one writer connection and commits without a cancellable
//     context (a local file cannot hang, and a cancellable context costs
//     its driver a goroutine per statement); PostgreSQL sends the group
//     with COPY on a pooled connection, and a commit in flight at shutdown
//     may be cancelled, so a hung server cannot hang the shutdown.
//   - Reading strategies: PostgreSQL needs a repeatable-read transaction
//     for the version and the list to agree; a SQLite read transaction is a
//     snapshot already (and its driver takes no isolation level).
//   - Space: PostgreSQL's autovacuum makes the space of deleted rows
//     reusable by itself; a SQLite file keeps it until an incremental
//     vacuum gives it back (vacuum.go).
//   - Files: a SQLite database is files of this node, which something
//     else can delete, replace, truncate or corrupt under the server, and
//     which a second server could open; SQLite's side locks them and
//     checks them at every write (sqlitefiles.go). PostgreSQL's files are
//     its server's business, and several nodes share it by design.
//   - Schema versions: SQLite keeps the version in PRAGMA user_version;
//     PostgreSQL in a schema_migrations table, under an advisory lock so
//     nodes starting together migrate once.
type dialect interface {
	// describe names the database for messages: "sqlite PATH" or
	// "postgres HOST:PORT/DB" (never a password).
	describe() string
	// bind rewrites a query written with ? placeholders.
	bind(query string) string
	// readTx returns the options of a consistent read transaction.
	readTx() *sql.TxOptions

	// sampleColumns is the select list of a stored sample.
	sampleColumns(layout []metrics.Field) string
	// newScanner returns a reusable destination for rows of
	// "received_at, " + sampleColumns.
	newScanner(layout []metrics.Field) *recordScanner
	// insertMetrics stores recs, all or none, in one transaction, in
	// which it then calls bound.
	insertMetrics(ctx context.Context, node string, layout []metrics.Field, recs []metrics.Record,
		bound func(context.Context, txOps) error) error
	// layoutQuery reads the names of the counters a stored sample holds,
	// in stored order, from the migrated schema.
	layoutQuery() string

	// migrationDir is the directory of the dialect's migrations in
	// migrationFiles.
	migrationDir() string
	// schemaVersion reads the schema version inside the migration
	// transaction tx, first taking what serialises migrations.
	schemaVersion(ctx context.Context, tx *sql.Tx) (int, error)
	// setSchemaVersion records in tx that migration v was applied.
	setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error

	// reclaim gives the space of deleted rows back to the file system,
	// when the database does not do it by itself; the retention job calls
	// it after deleting.
	reclaim(ctx context.Context, log *slog.Logger) error

	// verify returns a *fileProblem when the database's files are no
	// longer the ones the store opened, or no longer sound; whole (a
	// fuller check) only while the caller holds the writer connection.
	verify(whole bool) error
	// verifyNow is verify(true), taking the writer connection.
	verifyNow(ctx context.Context) error
	// probeSpace asks the storage for fresh space, for the write probe.
	probeSpace() error
	// classify names the cause of a failed write or read for people
	// ("the disk is full"; "" when there is nothing to add to the error),
	// or returns the problem when it shows the database file is corrupt.
	classify(err error) (cause string, corrupt *fileProblem)

	// close releases what the dialect holds besides the *sql.DBs; Close
	// calls it first. release is called last, after the *sql.DBs closed.
	close() error
	release() error
}
