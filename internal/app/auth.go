package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/config"
)

// tokenFileReload is how often the token file is checked for changes.
const tokenFileReload = 2 * time.Second

// newGuard builds the Guard from the configured credential methods, with
// the components that keep them fresh. It reads the credential files, so
// a bad one stops the server at start.
func newGuard(cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (*auth.Guard, []component, error) {
	var (
		opts       = auth.GuardOptions{Registry: reg}
		components []component
	)
	if cfg.TokenAuthFile != "" {
		tf, err := auth.LoadTokenFile(cfg.TokenAuthFile, log.With("component", "auth"))
		if err != nil {
			return nil, nil, err
		}
		opts.Tokens = append(opts.Tokens, tf)
		opts.Certificates = tf
		components = append(components, component{"token file", func(ctx context.Context) error {
			return tf.Run(ctx, tokenFileReload)
		}})
		log.Info("static tokens", "file", cfg.TokenAuthFile, "entries", tf.Len())
	}
	return auth.NewGuard(opts), components, nil
}
