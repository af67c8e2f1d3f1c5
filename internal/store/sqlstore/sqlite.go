package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bss-api/bss-api/internal/metrics"
)

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it: pure Go driver, so the binary stays static; WAL mode with
// full sync, so everything acknowledged survives a crash; one writer
// connection, as SQLite has one writer. It first locks the database
// (PATH.lock), so a second server on it fails here, naming the first; and
// it refuses a database that fails SQLite's quick check, saying so.
//
// When opts.Lock is set, the caller took the lock already (LockSQLite);
// the Store owns it from here on, and OpenSQLite releases it if it fails.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	lock := opts.Lock
	if lock == nil {
		var err error
		if lock, err = LockSQLite(path); err != nil {
			return nil, err
		}
	}
	s, err := openLocked(ctx, path, lock.f, opts)
	if err != nil {
		_ = lock.Release()
		return nil, err
	}
	return s, nil
}

// openLocked is OpenSQLite once the database is locked.
func openLocked(ctx context.Context, path string, lock *os.File, opts Options) (*Store, error) {
	fresh, err := isNew(path, opts.Logger)
	if err != nil {
		return nil, openFailed(path, err)
	}
	dsn := func(mode string, first ...string) string {
		q := url.Values{}
		// SQLite's default page cache (2000 KiB per connection) and no
		// mmap: the pure-Go driver allocates each 4 KiB cache page in an
		// 8 KiB slot outside the Go heap, so a 16 MiB cache cost 28 MiB of
		// RSS under ingest, and neither a bigger cache nor mmap made
		// ingest or a summary faster (docs/performance.md). mmap is off
		// also because reading a mapped page of a file truncated under
		// the server is a SIGBUS no Go code survives.
		pragmas := append(first, "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)",
			"journal_size_limit(67108864)")
		for _, p := range pragmas {
			q.Add("_pragma", p)
		}
		q.Set("mode", mode)
		return "file:" + path + "?" + q.Encode()
	}
	// A new database is given auto_vacuum first, before WAL mode writes
	// its first page; an existing one waits for a VACUUM
	// (incrementalVacuum), and is not written to before its check.
	var first []string
	if fresh {
		first = append(first, "auto_vacuum(INCREMENTAL)")
	}
	write, err := sql.Open("sqlite", dsn("rwc", first...))
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
	d := &sqliteDialect{path: path, write: write, lock: lock}
	s, err := d.prepare(ctx, read, fresh, opts)
	if err != nil {
		read.Close()
		write.Close()
		if d.files != nil {
			d.files.close()
		}
		return nil, openFailed(path, err)
	}
	return s, nil
}

// openFailed says why the database at path was not opened: what is wrong
// with its file and what to do, or the error.
func openFailed(path string, err error) error {
	if p, ok := errors.AsType[*fileProblem](err); ok {
		return fmt.Errorf("%w: %s", p, p.fix)
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// prepare checks, migrates and guards the database that d and read open.
func (d *sqliteDialect) prepare(ctx context.Context, read *sql.DB, fresh bool, opts Options) (*Store, error) {
	if !fresh {
		if err := quickCheck(ctx, d.path, read); err != nil {
			return nil, err
		}
	}
	s, err := open(ctx, d, d.write, read, nil, opts)
	if err != nil {
		return nil, err
	}
	if opts.targetVersion == 0 {
		if err := d.incrementalVacuum(ctx, s.log); err != nil {
			return nil, err
		}
	}
	// A checkpoint that a crash cut off leaves page 1 (the new page
	// count) copied and the pages after it not yet: the file is shorter
	// than its header says until a checkpoint completes, which the guard
	// would take for truncation. Complete it before the guard looks.
	if _, err := d.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, fmt.Errorf("checkpoint the write-ahead log: %w", err)
	}
	if d.files, err = guardFiles(d.path); err != nil {
		return nil, fmt.Errorf("open the database files to guard them: %w", err)
	}
	// One statement prepared once and reused by every commit.
	if d.insert, err = d.write.PrepareContext(ctx, `INSERT INTO metrics (received_at, node, sample) VALUES (?, ?, ?)`); err != nil {
		return nil, err
	}
	return s, nil
}

// quickCheck runs SQLite's quick check on a read-only connection: a file
// that is not a database, or a damaged one, is refused before anything
// is written to it (the writer's connection, closing last, would
// checkpoint the WAL into it).
func quickCheck(ctx context.Context, path string, read *sql.DB) error {
	var res string
	err := read.QueryRowContext(ctx, `PRAGMA quick_check(1)`).Scan(&res)
	if err == nil && res == "ok" {
		return nil
	}
	if err != nil {
		if _, corrupt := (&sqliteDialect{path: path}).classify(err); corrupt != nil {
			return corrupt
		}
		return err
	}
	// The check lists its findings on several lines; the message is one.
	res = strings.Join(strings.Fields(strings.ReplaceAll(res, "*** in database main ***", "")), " ")
	return &fileProblem{path: path, what: "is corrupt (" + res + ")", fix: corruptFix}
}

// isNew reports whether the database at path is new, and says so: none
// yet, or an empty file, which a truncation to nothing leaves behind as
// well. An empty file whose WAL holds data is refused: SQLite would
// delete that WAL, and the data with it, without a word.
func isNew(path string, log *slog.Logger) (bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("creating a new, empty database", "path", path)
		return true, nil
	case err != nil:
		return false, fmt.Errorf("look at the database file: %w", err)
	case fi.Size() > 0:
		return false, nil
	case fileSize(path+"-wal") > 0:
		return false, &fileProblem{path: path, what: "is empty while its WAL holds data: it was truncated",
			fix: "with the server stopped, restore the file from a backup, or move it and its -wal away to start with an empty database"}
	}
	log.Warn("the database file is empty: starting with an empty database", "path", path)
	return true, nil
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
	insert *sql.Stmt  // on write; set once migrated
	lock   *os.File   // PATH.lock, locked
	files  *fileGuard // set once migrated
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

// release closes the guard's descriptors, then unlocks: after SQLite's
// own descriptors are closed (sqlitefiles.go says why).
func (d *sqliteDialect) release() error {
	var err error
	if d.files != nil {
		err = d.files.close()
	}
	return errors.Join(err, d.lock.Close())
}

// verify checks the files once they are guarded (Open writes before).
func (d *sqliteDialect) verify(whole bool) error {
	if d.files == nil {
		return nil
	}
	return d.files.verify(whole)
}

func (d *sqliteDialect) verifyNow(ctx context.Context) error {
	if d.files == nil {
		return nil
	}
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return nil // busy or closing: the next look will do
	}
	defer conn.Close()
	return d.files.verify(true)
}

func (d *sqliteDialect) probeSpace() error { return probeSpace(d.lock) }

// classify names SQLite's result codes that tell why a write failed;
// SQLITE_CORRUPT and SQLITE_NOTADB mean a damaged file.
func (d *sqliteDialect) classify(err error) (string, *fileProblem) {
	e, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return "", nil
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return "the disk is full", nil
	case sqlite3.SQLITE_READONLY:
		return "the database is read-only", nil
	case sqlite3.SQLITE_IOERR:
		return "an I/O error: the disk failed, or went read-only", nil
	case sqlite3.SQLITE_CANTOPEN:
		return "a database file cannot be opened", nil
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return e.Error(), &fileProblem{path: d.path, what: "is corrupt (" + e.Error() + ")", fix: corruptFix}
	}
	return "", nil
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

func (d *sqliteDialect) insertMetrics(ctx context.Context, node string, layout []metrics.Field, recs []metrics.Record,
	bound func(context.Context, txOps) error) error {
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
	if err := bound(ctx, sqlTx{tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
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
