package sqlstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The files of a SQLite store, besides the database's own, and what
// guards them:
//
//   - PATH.lock is locked (flock) for the life of the Store and holds its
//     PID, so a second server on the same database refuses to start and
//     names the first. The write probe also asks the file system for
//     fresh space through it (SQLite reuses the space inside its files,
//     so a small write can succeed on a full disk).
//   - PATH and PATH-wal are opened once more and kept open, to tell
//     whether the paths still name the files SQLite writes (deleted,
//     replaced), whether the database still starts with SQLite's header,
//     and whether it is as long as that header says (truncated). These
//     descriptors are closed only after SQLite's: closing any descriptor of
//     a file drops every POSIX lock the process holds on it, and SQLite's
//     locks are POSIX locks. For the same reason nothing here opens and
//     closes the database file while the store is open.

// fileProblem is a database file that is no longer the one the store
// opened, or no longer sound: every write is refused until a restart.
type fileProblem struct {
	path string
	what string // "was deleted while the server ran"
	fix  string // what the operator can do
}

func (p *fileProblem) Error() string { return "the database file " + p.path + " " + p.what }

// Lock is the lock of a SQLite database, PATH.lock. A Store opened with
// it (Options.Lock) releases it when it closes.
type Lock struct{ f *os.File }

// LockSQLite takes the lock of the SQLite database at path, creating its
// directory if needed. While a process holds it, LockSQLite in another
// fails, naming that process (its PID, from the lock file).
func LockSQLite(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	f, err := lockDatabase(path)
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Release releases a lock that no Store took. A nil Lock is released.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}

// lockDatabase takes the lock of the database at path, or fails naming
// the process that holds it.
func lockDatabase(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "pid " + strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
			if holder == "pid " {
				holder = "its pid not yet written"
			}
			return nil, fmt.Errorf("%s is in use by another bss-api (%s), which holds %s: stop it, or give this server another --data-dir or --store",
				path, holder, name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write the lock file %s: %w", name, err)
	}
	return f, nil
}

// probeSpace asks the file system for fresh space: 64 KiB written to the
// lock file after its PID line and synced, then cut off again.
func probeSpace(lock *os.File) error {
	fi, err := lock.Stat()
	if err != nil {
		return err
	}
	keep := min(fi.Size(), 32) // the PID line
	_, err = lock.WriteAt(make([]byte, 64<<10), 4096)
	if err == nil {
		err = lock.Sync()
	}
	if terr := lock.Truncate(keep); err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("write to the data directory: %w", err)
	}
	return nil
}

// fileGuard tells whether a SQLite database's files are still the ones
// SQLite has open, and sound. Its methods are safe for concurrent use.
type fileGuard struct {
	path    string
	db, wal *os.File // wal is nil when there was none at open
	header  bool     // whether the database had a header at open
}

// guardFiles opens the database at path and its WAL for the guard.
func guardFiles(path string) (*fileGuard, error) {
	db, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	g := &fileGuard{path: path, db: db}
	if fi, err := db.Stat(); err == nil && fi.Size() >= 100 {
		g.header = true
	}
	switch wal, err := os.Open(path + "-wal"); {
	case err == nil:
		g.wal = wal
	case !errors.Is(err, fs.ErrNotExist):
		db.Close()
		return nil, err
	}
	return g, nil
}

// close closes the guard's descriptors; call it after SQLite's are.
func (g *fileGuard) close() error {
	err := g.db.Close()
	if g.wal != nil {
		err = errors.Join(err, g.wal.Close())
	}
	return err
}

// verify returns a *fileProblem when a path no longer names the file
// SQLite has open. With whole, it also checks the database's header and
// length; only a holder of SQLite's writer connection may ask for that,
// as a checkpoint running meanwhile writes the header before the pages
// that lengthen the file.
func (g *fileGuard) verify(whole bool) error {
	if err := g.same(g.path, g.db); err != nil {
		return err
	}
	if g.wal != nil {
		if err := g.same(g.path+"-wal", g.wal); err != nil {
			return err
		}
	}
	if !whole || !g.header {
		return nil
	}
	return g.sound()
}

// same reports a problem when name no longer names the open file f.
func (g *fileGuard) same(name string, f *os.File) error {
	// A path that cannot be looked at is no proof of a problem.
	switch named, err := os.Stat(name); {
	case errors.Is(err, fs.ErrNotExist):
		return g.problem(name, "was deleted while the server ran")
	case err == nil:
		if open, err := f.Stat(); err == nil && !os.SameFile(named, open) {
			return g.problem(name, "was replaced by another file while the server ran")
		}
	}
	return nil
}

func (g *fileGuard) problem(name, what string) *fileProblem {
	return &fileProblem{path: name, what: what,
		fix: "restart the server: it opens what the path names then (a new, empty database when there is none)"}
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// sound checks the database file's header and that the file is as long
// as the header says.
func (g *fileGuard) sound() error {
	var h [100]byte
	n, err := g.db.ReadAt(h[:], 0)
	if n < len(h) {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil
		}
		return &fileProblem{path: g.path, what: fmt.Sprintf("was truncated to %d bytes while the server ran", n), fix: corruptFix}
	}
	if string(h[:16]) != sqliteMagic {
		return &fileProblem{path: g.path, what: "was overwritten while the server ran: it no longer starts with SQLite's header", fix: corruptFix}
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	// The page count is valid when the change counter matches the
	// version it was written at (the SQLite file format, section 1.3).
	pages := int64(binary.BigEndian.Uint32(h[28:]))
	if pages == 0 || binary.BigEndian.Uint32(h[24:]) != binary.BigEndian.Uint32(h[92:]) {
		return nil
	}
	fi, err := g.db.Stat()
	if err == nil && fi.Size() < pages*pageSize {
		return &fileProblem{path: g.path, fix: corruptFix,
			what: fmt.Sprintf("was truncated while the server ran: %d bytes, where its header says %d", fi.Size(), pages*pageSize)}
	}
	return nil
}

// corruptFix is what to do about a damaged database.
const corruptFix = "with the server stopped, restore the file from a backup, or move it away to start with an empty database"
