package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/bss-api/bss-api/internal/metrics"
)

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it: pure Go driver, so the binary stays static; WAL mode with
// full sync, so everything acknowledged survives a crash; one writer
// connection, as SQLite has one writer.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	dsn := func(mode string) string {
		q := url.Values{}
		// SQLite's default page cache (2000 KiB per connection) and no
		// mmap: the pure-Go driver allocates each 4 KiB cache page in an
		// 8 KiB slot outside the Go heap, so a 16 MiB cache cost 28 MiB of
		// RSS under ingest, and mmap maps the whole file into the process
		// on a full read; neither made ingest or a summary faster
		// (docs/performance.md).
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
			q.Add("_pragma", p)
		}
		q.Set("mode", mode)
		return "file:" + path + "?" + q.Encode()
	}
	write, err := sql.Open("sqlite", dsn("rwc"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn("ro"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	d := &sqliteDialect{path: path, write: write}
	s, err := open(ctx, d, write, read, nil, opts)
	if err == nil {
		// One statement prepared once and reused by every commit.
		d.insert, err = write.PrepareContext(ctx, `INSERT INTO metrics (received_at, node, sample) VALUES (?, ?, ?)`)
	}
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// IntegrityCheck runs SQLite's integrity check; PostgreSQL has none.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if _, ok := s.d.(*sqliteDialect); !ok {
		return errors.New("integrity check: only a SQLite store has one")
	}
	var res string
	if err := s.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity check: %s", res)
	}
	return nil
}

// sqliteDialect is SQLite's side of dialect.
type sqliteDialect struct {
	path   string
	write  *sql.DB
	insert *sql.Stmt // on write; set once migrated
}

func (d *sqliteDialect) describe() string         { return "sqlite " + d.path }
func (d *sqliteDialect) bind(query string) string { return query }
func (d *sqliteDialect) readTx() *sql.TxOptions   { return &sql.TxOptions{ReadOnly: true} }
func (d *sqliteDialect) migrationDir() string     { return "migrations/sqlite" }

func (d *sqliteDialect) close() error {
	if d.insert == nil {
		return nil
	}
	return d.insert.Close()
}

func (d *sqliteDialect) schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (d *sqliteDialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
	return err
}

func (d *sqliteDialect) layoutQuery() string {
	return `SELECT name FROM sample_layout ORDER BY position`
}

func (d *sqliteDialect) sampleColumns([]metrics.Field) string { return "sample" }

func (d *sqliteDialect) newScanner(layout []metrics.Field) *recordScanner {
	sc := &recordScanner{}
	var blob sql.RawBytes // no copy per row; unpack copies the values out
	sc.dest = []any{&sc.at, &blob}
	sc.decode = func(smp *metrics.Sample) error { return unpack(layout, blob, smp) }
	return sc
}

func (d *sqliteDialect) insertMetrics(ctx context.Context, node string, layout []metrics.Field, recs []metrics.Record) error {
	// A commit is never interrupted: its requests were accepted. A
	// cancellable context would also cost the driver a watcher goroutine
	// per statement (docs/performance.md has what that cost).
	ctx = context.WithoutCancel(ctx)
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// Most of a commit's time is the fsync that synchronous=FULL makes;
	// that fsync is what makes a 200 durable.
	stmt := tx.StmtContext(ctx, d.insert)
	for i := range recs {
		rec := &recs[i]
		if _, err := stmt.ExecContext(ctx, rec.ReceivedAt.UnixNano(), node, pack(layout, &rec.Sample)); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// pack encodes a sample's counters as little-endian uint64s in the order
// of layout.
func pack(layout []metrics.Field, smp *metrics.Sample) []byte {
	b := make([]byte, 0, 8*len(layout))
	for _, f := range layout {
		b = binary.LittleEndian.AppendUint64(b, f.Get(smp))
	}
	return b
}

// unpack decodes what pack wrote into smp. A blob of an older, shorter
// layout leaves the counters added since at 0.
func unpack(layout []metrics.Field, b []byte, smp *metrics.Sample) error {
	if len(b)%8 != 0 || len(b) > 8*len(layout) {
		return fmt.Errorf("stored sample has %d bytes, want a multiple of 8 up to %d", len(b), 8*len(layout))
	}
	*smp = metrics.Sample{}
	for i := range len(b) / 8 {
		layout[i].Set(smp, binary.LittleEndian.Uint64(b[8*i:]))
	}
	return nil
}
