package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// postStrategies stores n strategies in the bss-api at addr. They target
// the synthetic /proc's app-0 and app-1 processes, alternating, so every
// strategy matches and the first two win: with 500 pods that is 1,000
// resolved PIDs, whatever n is. A non-empty token is sent as a bearer
// token (it needs the operator role).
func postStrategies(ctx context.Context, log *slog.Logger, addr, token string, n int) error {
	type strategy struct {
		Priority      bool   `json:"priority"`
		ExecutionTime uint64 `json:"execution_time"`
		CommandRegex  string `json:"command_regex"`
	}
	list := make([]strategy, n)
	for i := range list {
		list[i] = strategy{Priority: i%2 == 0, ExecutionTime: uint64(1_000_000 + i), CommandRegex: fmt.Sprintf("^app-%d$", i%2)}
	}
	body, err := json.Marshal(map[string]any{"strategies": list})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/scheduling/strategies", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post strategies: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post strategies: %s: %s", resp.Status, b)
	}
	log.Info("strategies posted", "count", n)
	return nil
}
