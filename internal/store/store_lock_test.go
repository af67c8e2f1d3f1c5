package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/store"
)

// Lock keeps a second server off a SQLite database from before Open, and
// Open's backend holds it until Close; it takes nothing for the others,
// nor when the data directory does not exist yet (Open locks it then).
func TestLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "bss-api.db")
	if l, err := store.Lock(store.SQLite, path); l != nil || err != nil {
		t.Fatalf("Lock before the directory exists = %v, %v; want nothing", l, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Fatalf("Lock created the data directory (%v)", err)
	}
	if l, err := store.Lock(store.Memory, ""); l != nil || err != nil {
		t.Errorf("Lock(memory) = %v, %v; want nothing", l, err)
	}

	b, err := store.Open(ctx, store.SQLite, path, store.Options{MaxCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Lock(store.SQLite, path); err == nil || !strings.Contains(err.Error(), "in use by another bss-api (pid ") {
		t.Errorf("Lock while open = %v, want an error naming the holder", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	l, err := store.Lock(store.SQLite, path)
	if err != nil || l == nil {
		t.Fatalf("Lock after Close = %v, %v", l, err)
	}
	b, err = store.Open(ctx, store.SQLite, path, store.Options{MaxCount: 10, Lock: l})
	if err != nil {
		t.Fatalf("Open with the lock taken = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err := store.Lock(store.SQLite, path); err != nil {
		t.Errorf("Lock after the backend that owned it closed = %v", err)
	} else {
		_ = l.Release()
	}
}
