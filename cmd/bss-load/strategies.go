package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bss-api/bss-api/client"
)

// setupTimeout bounds each request made to set up or check a run.
const setupTimeout = 30 * time.Second

// newAPIClient returns a client of the bss-api at addr for the requests
// around the measurement. The measured requests themselves are written by
// hand (httpwire.go): ready-made bytes on a kept connection, so the load
// generator's own cost stays far below the server's.
func newAPIClient(addr, token string) (*client.Client, error) {
	opts := []client.Option{client.WithTimeout(setupTimeout)}
	if token != "" {
		opts = append(opts, client.WithBearerToken(token))
	}
	c, err := client.New("http://"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("bss-api client: %w", err)
	}
	return c, nil
}

// postStrategies stores n strategies in the bss-api at addr. They target
// the synthetic /proc's app-0 and app-1 processes, alternating, so every
// strategy matches and the first two win: with 500 pods that is 1,000
// resolved PIDs, whatever n is. A non-empty token is sent as a bearer
// token (it needs the operator role).
func postStrategies(ctx context.Context, log *slog.Logger, addr, token string, n int) error {
	c, err := newAPIClient(addr, token)
	if err != nil {
		return err
	}
	list := make([]client.Strategy, n)
	for i := range list {
		list[i] = client.Strategy{ExecutionTime: uint64(1_000_000 + i), CommandRegex: fmt.Sprintf("^app-%d$", i%2)}
		if i%2 == 0 {
			list[i].Priority = 1
		}
	}
	if _, err := c.ReplaceStrategies(ctx, list); err != nil {
		return fmt.Errorf("post strategies: %w", err)
	}
	s, err := c.Strategies(ctx)
	if err != nil {
		return fmt.Errorf("read the strategies back: %w", err)
	}
	log.Info("strategies posted", "count", n, "resolved_pids", len(s.Scheduling))
	return nil
}

// verifyStored checks, after a post-metrics run, that the server stored
// what it was sent: its latest sample is the seed body's. A token without
// the right to read metrics (a scheduler's) skips the check.
func verifyStored(ctx context.Context, log *slog.Logger, addr, token string) error {
	c, err := newAPIClient(addr, token)
	if err != nil {
		return err
	}
	latest, err := c.LatestMetrics(ctx)
	switch {
	case errors.Is(err, client.ErrForbidden) || errors.Is(err, client.ErrUnauthorized):
		log.Info("stored samples not checked: the token may not read metrics")
		return nil
	case err != nil:
		return fmt.Errorf("check the stored samples: %w", err)
	}
	if m := latest.Metrics; m.NrQueued != 10 || m.NrSchedCongested != 3 || m.UserschedPID != 1234 {
		return fmt.Errorf("check the stored samples: the latest is %+v, not the seed body that was sent", m)
	}
	log.Info("stored samples checked", "latest_received_at", latest.Metrics.ReceivedAt)
	return nil
}
