package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/store"
)

// openStore opens the configured store backend.
func openStore(ctx context.Context, cfg config.Config, now func() time.Time, log *slog.Logger) (store.Backend, error) {
	kind, path, _ := cfg.StoreKind() // validated by config
	return store.Open(ctx, kind, path, store.Options{
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
