package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bss-api/bss-api/internal/metrics"
)

// migrationLock is the pg_advisory_xact_lock key that serialises
// migrations of bss-api instances starting together on one database.
const migrationLock = 0x6273735f6d6967 // "bss_mig"

// OpenPostgres connects to the database named by dsn (a postgres:// URL or
// a key=value string) and migrates it. The database may be shared by
// several nodes: each writes and reads only its own metric rows
// (opts.Node); the strategies are common to all, and a change made through
// one node reaches the others by LISTEN/NOTIFY, with a periodic re-read of
// the version as a backstop for lost notifications.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included; do not pass it on.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	// Everything but metric writes goes through database/sql, as with
	// SQLite; metric writes use the pool directly for COPY.
	db := stdlib.OpenDBFromPool(pool)
	d := &postgresDialect{where: where, pool: pool}
	s, err := open(ctx, d, db, db, &listener{connConfig: pool.Config().ConnConfig}, opts)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	return s, nil
}

// postgresDialect is PostgreSQL's side of dialect.
type postgresDialect struct {
	where string // host:port/database, for messages (no password)
	pool  *pgxpool.Pool
}

func (d *postgresDialect) describe() string     { return "postgres " + d.where }
func (d *postgresDialect) migrationDir() string { return "migrations/postgres" }

// PostgreSQL's files are its server's: nothing to verify or probe here.
func (d *postgresDialect) verify(bool) error               { return nil }
func (d *postgresDialect) verifyNow(context.Context) error { return nil }
func (d *postgresDialect) probeSpace() error               { return nil }
func (d *postgresDialect) release() error                  { return nil }

// classify names the server's failures that tell why writes fail. A
// corrupt PostgreSQL database is its server's to report.
func (d *postgresDialect) classify(err error) (string, *fileProblem) {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "53100":
			return "the database server's disk is full", nil
		case "25006":
			return "the database is read-only", nil
		case "58030":
			return "the database server has an I/O error", nil
		}
	}
	return "", nil
}

// reclaim does nothing: autovacuum makes the space of deleted rows
// reusable.
func (d *postgresDialect) reclaim(context.Context, *slog.Logger) error { return nil }

func (d *postgresDialect) close() error {
	d.pool.Close()
	return nil
}

// bind numbers the ? placeholders: $1, $2, …
func (d *postgresDialect) bind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}

func (d *postgresDialect) readTx() *sql.TxOptions {
	return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
}

func (d *postgresDialect) schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return 0, fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (d *postgresDialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v)
	return err
}

// layoutQuery reads the metrics table's counter columns, in table order.
func (d *postgresDialect) layoutQuery() string {
	return `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'metrics' AND column_name NOT IN ('node', 'received_at')
		ORDER BY ordinal_position`
}

func (d *postgresDialect) sampleColumns(layout []metrics.Field) string { return columnList(layout) }

// newScanner reads the counters as int64, bit for bit what insertMetrics
// wrote, and gives them back as uint64.
func (d *postgresDialect) newScanner(layout []metrics.Field) *recordScanner {
	sc := &recordScanner{}
	vals := make([]int64, len(layout))
	sc.dest = make([]any, 0, 1+len(layout))
	sc.dest = append(sc.dest, &sc.at)
	for i := range vals {
		sc.dest = append(sc.dest, &vals[i])
	}
	sc.decode = func(smp *metrics.Sample) error {
		*smp = metrics.Sample{}
		for i, f := range layout {
			f.Set(smp, uint64(vals[i]))
		}
		return nil
	}
	return sc
}

// insertMetrics sends the rows with COPY. Counters are uint64 stored bit
// for bit in BIGINT.
func (d *postgresDialect) insertMetrics(ctx context.Context, node string, layout []metrics.Field, recs []metrics.Record,
	bound func(context.Context, txOps) error) error {
	rows := make([][]any, 0, len(recs))
	for i := range recs {
		rec := &recs[i]
		row := make([]any, 0, 2+len(layout))
		row = append(row, node, rec.ReceivedAt.UnixNano())
		for _, f := range layout {
			row = append(row, int64(f.Get(&rec.Sample)))
		}
		rows = append(rows, row)
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	columns := append([]string{"node", "received_at"}, layoutNames(layout)...)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"metrics"}, columns, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	if err := bound(ctx, pgxTx{tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgxTx is a pgx transaction as txOps.
type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (t pgxTx) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error } {
	return t.tx.QueryRow(ctx, query, args...)
}
