package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/store/postgres"
	"github.com/bss-api/bss-api/internal/store/sqlite"
	"github.com/bss-api/bss-api/internal/strategy"
)

// stores is the configured backend's two stores and its lifecycle.
type stores struct {
	history    metrics.History
	strategies strategy.Store
	changes    strategy.ChangeSource // nil unless the store is shared
	health     func(context.Context) health.Report
	run        func(context.Context) error
	close      func()
}

func openStore(ctx context.Context, cfg config.Config, now func() time.Time, log *slog.Logger) (*stores, error) {
	kind, path, _ := cfg.StoreKind() // validated by config
	if kind == "memory" {
		h := memory.NewHistory(cfg.HistoryMaxSamples, cfg.HistoryRetention, now)
		log.Warn("memory store: strategies and metric history are lost when the server stops", "store", "memory")
		return &stores{
			history: h, strategies: &strategy.MemoryStore{},
			health: func(context.Context) health.Report {
				return health.Report{State: health.OK, Detail: fmt.Sprintf("memory: %d samples (lost on exit)", h.Len())}
			},
			run:   func(ctx context.Context) error { <-ctx.Done(); return nil },
			close: func() {},
		}, nil
	}
	if kind == "postgres" {
		p, err := postgres.Open(ctx, path, postgres.Options{
			Node: cfg.NodeName, MaxAge: cfg.HistoryRetention, MaxCount: cfg.HistoryMaxSamples,
			Logger: log.With("component", "store"), Now: now,
		})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		log.Info("store", "store", "postgres")
		return &stores{
			history: p, strategies: p, changes: p, health: p.Health, run: p.Run,
			close: func() {
				if err := p.Close(); err != nil {
					log.Error("close the store", "err", err)
				}
			},
		}, nil
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{
		Node: cfg.NodeName, MaxAge: cfg.HistoryRetention, MaxCount: cfg.HistoryMaxSamples,
		Logger: log.With("component", "store"), Now: now,
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	log.Info("store", "store", "sqlite", "path", path, "schema_version", sqlite.LatestVersion())
	return &stores{
		history: s, strategies: s, health: s.Health, run: s.Run,
		close: func() {
			if err := s.Close(); err != nil {
				log.Error("close the store", "err", err)
			}
		},
	}, nil
}
