package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/store/sqlstore"
	"github.com/bss-api/bss-api/internal/testsupport/storetest"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

func options(o storetest.Options) sqlstore.Options {
	// The retention job runs often, so the suite sees it work.
	return sqlstore.Options{Node: "n1", MaxCount: o.MaxCount, MaxAge: o.MaxAge, Audit: o.Audit, Now: o.Now, RetainEvery: 20 * time.Millisecond}
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Backend {
		s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "bss.db"), options(o))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPostgresConformance runs the suite on one private cluster, a fresh
// database per case.
func TestPostgresConformance(t *testing.T) {
	admin := testenv.StartPostgres(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Backend {
		dsn := sqlstore.FreshDB(t, admin, fmt.Sprintf("c%d", n.Add(1)))
		s, err := sqlstore.OpenPostgres(context.Background(), dsn, options(o))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
