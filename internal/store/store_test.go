package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/store"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	opts := store.Options{Node: "n", MaxCount: 10, MaxAge: 1 << 40}
	for _, kind := range []string{store.Memory, store.SQLite} {
		b, err := store.Open(ctx, kind, filepath.Join(t.TempDir(), "bss.db"), opts)
		if err != nil {
			t.Fatalf("Open(%s) = %v", kind, err)
		}
		if b.Shared() || b.Changes() != nil {
			t.Errorf("%s: Shared() = %v, Changes() = %v; want a backend of one node", kind, b.Shared(), b.Changes())
		}
		if r := b.Health(ctx); !strings.HasPrefix(r.Detail, kind) {
			t.Errorf("%s: Health = %+v, want a detail naming the backend", kind, r)
		}
		if err := b.Close(); err != nil {
			t.Errorf("%s: Close = %v", kind, err)
		}
	}
	if _, err := store.Open(ctx, "etcd", "", opts); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("Open(etcd) = %v, want an unknown-kind error", err)
	}
	if _, err := store.Open(ctx, store.Postgres, "postgres://%zz", opts); err == nil || strings.Contains(err.Error(), "%zz") {
		t.Errorf("Open(a bad URL) = %v, want an error that does not quote the URL", err)
	}
}
