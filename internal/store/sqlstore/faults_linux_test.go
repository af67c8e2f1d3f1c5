package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// checkFailing asserts that a write fails naming cause, that the store is
// Down saying so, and that it recovers once repair is done: by the write
// probe, with no write needed, and for the writes that follow.
func checkFailing(t *testing.T, s *Store, logs *logBuffer, cause string, repair func()) {
	t.Helper()
	err := appendOne(s)
	if apperr.CodeOf(err) != apperr.Unavailable || !strings.Contains(apperr.MessageOf(err), "the store cannot be written ("+cause+")") {
		t.Fatalf("Append = %v, want Unavailable saying %q", err, cause)
	}
	if r := s.Health(context.Background()); r.State != health.Down || !strings.Contains(r.Detail, "writes fail") {
		t.Errorf("Health = %+v, want Down: writes fail", r)
	}
	_ = appendOne(s) // a second failure is not logged again
	if n := logs.count("store writes fail"); n != 1 {
		t.Errorf("%d log lines say the writes fail, want 1", n)
	}
	repair()
	waitFor(t, "the write probe to see writes succeed", func() bool { return s.Health(context.Background()).State == health.OK })
	if err := appendOne(s); err != nil {
		t.Errorf("Append after the repair = %v", err)
	}
	if n := logs.count("store writes succeed again"); n != 1 {
		t.Errorf("%d log lines say writes succeed again, want 1", n)
	}
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSQLiteFullDisk(t *testing.T) {
	dir := testenv.MountTmpfs(t, "4m")
	s, logs := faultStore(t, filepath.Join(dir, "bss.db"))
	if err := appendOne(s); err != nil {
		t.Fatal(err)
	}
	filler := testenv.FillDisk(t, dir)
	checkFailing(t, s, logs, "the disk is full", func() {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	})
}
