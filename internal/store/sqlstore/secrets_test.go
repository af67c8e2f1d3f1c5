package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteSecretSurvivesReopen: a secret is on disk, with the time it
// was made, and the next process reads it instead of making another.
func TestSQLiteSecretSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bss.db")
	made := time.Unix(1_700_000_000, 0)
	first, err := OpenSQLite(ctx, path, Options{Now: func() time.Time { return made }})
	if err != nil {
		t.Fatal(err)
	}
	v, err := first.Secret(ctx, "key", func() ([]byte, error) { return []byte("kept"), nil })
	if err != nil || string(v) != "kept" {
		t.Fatalf("Secret = %q, %v", v, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	s := run(t, mustOpenSQLite(t, path))
	v, err = s.Secret(ctx, "key", func() ([]byte, error) { return []byte("new"), nil })
	if err != nil || string(v) != "kept" {
		t.Errorf("Secret after reopening = %q, %v; want the stored value", v, err)
	}
	var created int64
	if err := s.read.QueryRowContext(ctx, `SELECT created_at FROM secrets WHERE name = 'key'`).Scan(&created); err != nil || created != made.Unix() {
		t.Errorf("created_at = %d (%v), want %d", created, err, made.Unix())
	}
}

func mustOpenSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSharedSecret: nodes on one PostgreSQL database share a secret,
// whichever of them made it.
func testSharedSecret(t *testing.T, dsn string) {
	ctx := context.Background()
	a := openRunning(t, dsn, Options{Node: "a"})
	b := openRunning(t, dsn, Options{Node: "b"})
	va, err := a.Secret(ctx, "key", func() ([]byte, error) { return []byte("made by a"), nil })
	if err != nil {
		t.Fatal(err)
	}
	vb, err := b.Secret(ctx, "key", func() ([]byte, error) { return []byte("made by b"), nil })
	if err != nil || string(vb) != string(va) || string(va) != "made by a" {
		t.Errorf("node a has %q, node b %q (%v); want both the first node's value", va, vb, err)
	}
}
