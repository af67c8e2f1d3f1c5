package sqlstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/strategy"
)

// logBuffer collects log lines, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// faultStore opens a running store at path, logging into the returned
// buffer.
func faultStore(t *testing.T, path string) (*Store, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s, err := OpenSQLite(context.Background(), path, Options{
		MaxCount: 1000, MaxAge: time.Hour, Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), CheckEvery: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return run(t, s), logs
}

func appendOne(s *Store) error {
	return s.Append(context.Background(), []metrics.Record{{ReceivedAt: time.Now(), Sample: metrics.Sample{NrQueued: 1}}})
}

// TestSQLiteSecondOpenRefused: the database is locked while open; a
// second store on it fails at once, naming the process that holds it.
func TestSQLiteSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bss.db")
	first, _ := faultStore(t, path)
	_, err := OpenSQLite(context.Background(), path, Options{})
	want := fmt.Sprintf("%s is in use by another bss-api (pid %d), which holds %s.lock", path, os.Getpid(), path)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second open = %v, want an error saying %q", err, want)
	}
	if err := appendOne(first); err != nil {
		t.Errorf("the first store after the refused second: %v", err)
	}
}

// TestSQLiteFileProblems: a database file deleted, replaced, truncated or
// overwritten under a running store is noticed at the next write, and by
// the periodic look when no write comes: that write is not acknowledged,
// every later write is refused (503, naming the problem), health is down,
// and one line is logged.
func TestSQLiteFileProblems(t *testing.T) {
	for _, tt := range []struct {
		name  string
		harm  func(t *testing.T, path string)
		want  string
		write bool // noticed by a write; else by the periodic look
	}{
		{"deleted", func(t *testing.T, path string) { remove(t, path) }, "was deleted", true},
		{"deleted with its WAL", func(t *testing.T, path string) { remove(t, path); remove(t, path+"-wal") }, "was deleted", false},
		{"replaced", func(t *testing.T, path string) {
			other := path + ".new"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, "was replaced by another file", true},
		{"truncated", func(t *testing.T, path string) { truncate(t, path, 0) }, "was truncated", true},
		{"truncated to a page", func(t *testing.T, path string) { truncate(t, path, 4096) }, "was truncated while the server ran: 4096 bytes, where its header says", false},
		{"header overwritten", func(t *testing.T, path string) { overwrite(t, path, 0, []byte("not a database!!")) }, "no longer starts with SQLite's header", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bss.db")
			filledDatabase(t, path)
			s, logs := faultStore(t, path)
			if err := appendOne(s); err != nil {
				t.Fatal(err)
			}
			tt.harm(t, path)
			if tt.write {
				err := appendOne(s)
				if apperr.CodeOf(err) != apperr.Unavailable || !strings.Contains(apperr.MessageOf(err), tt.want) {
					t.Fatalf("Append after the file %s = %v, want Unavailable saying %q", tt.name, err, tt.want)
				}
			} else {
				waitFor(t, "the periodic look to notice", func() bool { return s.Health(context.Background()).State == health.Down })
			}
			for what, err := range map[string]error{
				"Append": appendOne(s),
				"Put":    put(s),
				"audit":  auditOne(s),
			} {
				if apperr.CodeOf(err) != apperr.Unavailable || !strings.Contains(apperr.MessageOf(err), "refuses writes") ||
					!strings.Contains(apperr.MessageOf(err), tt.want) {
					t.Errorf("%s = %v, want a refusal saying %q", what, err, tt.want)
				}
			}
			if r := s.Health(context.Background()); r.State != health.Down || !strings.Contains(r.Detail, tt.want) {
				t.Errorf("Health = %+v, want Down saying %q", r, tt.want)
			}
			if n := logs.count(tt.want); n != 1 {
				t.Errorf("%d log lines say %q, want 1:\n%s", n, tt.want, logs.b.String())
			}
		})
	}
}

// TestSQLiteCorruptRefused: a database with damaged pages, or that is not
// one, is refused at open with what to do; nothing is written to it.
func TestSQLiteCorruptRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   int64
	}{{"header", 0}, {"pages mid-file", 3 * 4096}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bss.db")
			filledDatabase(t, path)
			garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", 4096/4*4))
			overwrite(t, path, tt.at, garbage)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = OpenSQLite(context.Background(), path, Options{MaxCount: 10, MaxAge: time.Hour})
			if err == nil || !strings.Contains(err.Error(), "the database file "+path+" is corrupt") ||
				!strings.Contains(err.Error(), "restore the file from a backup, or move it away") {
				t.Fatalf("Open = %v, want a refusal naming the corrupt file and the fix", err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("the refused database was written to")
			}
		})
	}
}

// filledDatabase makes a closed database at path whose file holds a few
// pages of samples (closing checkpoints them into it).
func filledDatabase(t *testing.T, path string) {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, Options{MaxCount: 100_000, MaxAge: time.Hour, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	appendRunning(t, s, 3000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSize(path) < 8*4096 {
		t.Fatalf("the database file has %d bytes, want a few pages", fileSize(path))
	}
}

func put(s *Store) error {
	_, _, err := s.Put(context.Background(), strategy.Strategy{Name: "x", ExecutionTime: 1000, PID: 7}, func([]strategy.Strategy) error { return nil })
	return err
}

func auditOne(s *Store) error {
	_, err := s.Audit().Append(context.Background(), audit.Record{At: time.Now(), Node: "n", Outcome: audit.Denied, Status: 401})
	return err
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, at int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSQLiteCheckpointCutOff: a crash in the middle of a checkpoint
// leaves the database file's header (page 1, copied first) saying more
// pages than the file has yet, and the WAL still holding them. That is no
// damage: the server opening it must complete the checkpoint and take
// writes, not report the file truncated.
func TestSQLiteCheckpointCutOff(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bss.db")
	s, err := OpenSQLite(context.Background(), src, Options{MaxCount: 100_000, MaxAge: time.Hour, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.d.(*sqliteDialect).write.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	appendRunning(t, s, 3000) // grows the database in the WAL only
	// What a kill -9 leaves: the two files as they are now.
	dst := filepath.Join(t.TempDir(), "bss.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The checkpoint had copied page 1 (the new page count) and nothing
	// after it.
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var h [100]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:]))
	binary.BigEndian.PutUint32(h[28:], uint32(fileSize(dst)/pageSize+8))
	copy(h[92:96], h[24:28]) // the count is valid for this change counter
	if _, err := f.WriteAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	reopened, logs := faultStore(t, dst)
	if err := reopened.d.verify(true); err != nil {
		t.Fatalf("after a cut-off checkpoint: %v", err)
	}
	if err := appendOne(reopened); err != nil {
		t.Fatalf("write after a cut-off checkpoint: %v\n%s", err, logs.b.String())
	}
}
