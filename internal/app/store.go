package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/store/sqlstore"
)

// lockStore takes the configured store's lock (store.Lock).
func lockStore(cfg config.Config) (*sqlstore.Lock, error) {
	kind, path, _ := cfg.StoreKind() // validated by config
	return store.Lock(kind, path)
}

// openStore opens the configured store backend; it owns lock from then on.
func openStore(ctx context.Context, cfg config.Config, lock *sqlstore.Lock, now func() time.Time, log *slog.Logger) (store.Backend, error) {
	kind, path, _ := cfg.StoreKind() // validated by config
	return store.Open(ctx, kind, path, store.Options{
		Lock: lock,
		Node: cfg.NodeName, MaxAge: cfg.HistoryRetention, MaxCount: cfg.HistoryMaxSamples, RetainEvery: cfg.RetentionInterval,
		Audit:  audit.Retention{MaxAge: cfg.AuditRetention, MaxCount: cfg.AuditMaxEntries},
		Logger: log, Now: now,
	})
}

// closeStore closes st, logging a failure: the process is ending anyway.
func closeStore(st store.Backend, log *slog.Logger) {
	if err := st.Close(); err != nil {
		log.Error("close the store", "err", err)
	}
}
