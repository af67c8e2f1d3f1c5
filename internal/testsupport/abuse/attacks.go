package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Target is the server under attack.
type Target struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	// Short runs timed attacks for a shorter while (the test suite's
	// budget); sizes stay the same.
	Short bool
}

// dur is full, or short when the run is Short.
func (t Target) dur(full, short time.Duration) time.Duration {
	if t.Short {
		return short
	}
	return full
}

// Outcome is what an attack reports.
type Outcome struct {
	Notes string
	// Strategies are the names of the strategies the server acknowledged
	// (200 or 201): they must be there afterwards, also after a restart.
	Strategies []string
}

// Attack is one row of the abuse table.
type Attack struct {
	Name string
	What string
	// Writes: the attack writes strategies, so afterwards the server is
	// restarted on its data and must start, and stay, within the limit
	// (a stored set it cannot afford must not crash-loop it).
	Writes bool
	// PrunesHistory: the attack writes more samples than the history keeps,
	// so of the normal client's samples only the last must be there.
	PrunesHistory bool
	Run           func(ctx context.Context, t Target) (Outcome, error)
}

// bombRegex compiles to a program of about 3 MB: 43 copies of a
// thousandfold repetition.
var bombRegex = strings.Repeat("(?:(?:a{10}){10}){10}", 43)

func bombStrategy(name string) map[string]any {
	return map[string]any{"name": name, "priority": true, "execution_time": 1_000_000, "command_regex": bombRegex}
}

// Attacks returns the table: the attacks the issue found, then the ones
// found since. Each holds its own sizes.
func Attacks() []Attack {
	return []Attack{
		{Name: "regex-bomb", What: "POST 100 strategies whose command_regex is 43 copies of (?:(?:a{10}){10}){10} (99 KB)", Writes: true,
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				list := make([]map[string]any, 100)
				for i := range list {
					list[i] = bombStrategy(fmt.Sprintf("bomb-%03d", i))
				}
				status, body, took, err := sendJSON(ctx, http.MethodPost, t.URL+"/api/v1/scheduling/strategies", map[string]any{"strategies": list})
				out := Outcome{Notes: fmt.Sprintf("answered %d in %s: %s", status, took.Round(time.Millisecond), short(body))}
				if status == http.StatusOK {
					for _, s := range list {
						out.Strategies = append(out.Strategies, s["name"].(string))
					}
				}
				sleep(ctx, 3*time.Second) // the resolver compiles what was stored
				return out, err
			}},
		{Name: "huge-puts", What: "40 PUTs of ~0.9 MB strategies with 100,000 namespaces each, 4 at a time (retrying 429s)", Writes: true,
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				ns := make([]string, 100_000)
				for i := range ns {
					ns[i] = fmt.Sprintf("n%d", i)
				}
				var mu sync.Mutex
				var out Outcome
				codes := &statusCounts{}
				forEach(ctx, 40, 4, func(i int) {
					name := fmt.Sprintf("wide-%02d", i)
					st := map[string]any{"priority": true, "execution_time": 1_000_000, "namespaces": ns}
					status := 0
					for try := 0; try < 20 && ctx.Err() == nil; try++ { // past the write rate limit
						status, _, _, _ = sendJSON(ctx, http.MethodPut, t.URL+"/api/v1/scheduling/strategies/definitions/"+name, st)
						if status != http.StatusTooManyRequests {
							break
						}
						sleep(ctx, time.Second)
					}
					codes.add(status)
					if status == http.StatusOK || status == http.StatusCreated {
						mu.Lock()
						out.Strategies = append(out.Strategies, name)
						mu.Unlock()
					}
				})
				sleep(ctx, 3*time.Second)
				out.Notes = "answers" + codes.String()
				return out, nil
			}},
		{Name: "preview-1000", What: "one preview of 1,000 regex-bomb strategies (991 KB), saving nothing",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				list := make([]map[string]any, 1000)
				for i := range list {
					list[i] = bombStrategy(fmt.Sprintf("p-%04d", i))
				}
				status, body, took, err := sendJSON(ctx, http.MethodPost, t.URL+"/api/v1/scheduling/strategies/preview", map[string]any{"strategies": list})
				return Outcome{Notes: fmt.Sprintf("answered %d in %s: %s", status, took.Round(time.Millisecond), short(body))}, err
			}},
		{Name: "strategies-at-the-limits", What: "strategies at every per-strategy limit of the cost model, as many as one 1 MiB request holds, stored; then 16 previews of them and 16 explains at once", Writes: true,
			Run: atTheLimits},
		{Name: "metric-flood", What: "20 s of 1 MiB metric batches (1,000 samples) on 4 connections, then 16 concurrent summary?window=24h", PrunesHistory: true,
			Run: metricFlood},
		{Name: "idle-one-client", What: "15,000 idle keep-alive connections from one client",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return idleConns(ctx, t, 15_000, OneClient, t.dur(5*time.Second, 2*time.Second))
			}},
		{Name: "idle-many-clients", What: "15,000 idle keep-alive connections from 1,000 clients",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return idleConns(ctx, t, 15_000, Sources(1000), t.dur(5*time.Second, 2*time.Second))
			}},
		{Name: "slow-bodies-one-client", What: "5,000 slow bodies at 10 B/s (Content-Length 64 KiB) from one client",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return slowBodies(ctx, t, 5000, OneClient, t.dur(10*time.Second, 7*time.Second))
			}},
		{Name: "slow-bodies-many-clients", What: "5,000 slow bodies at 10 B/s (Content-Length 64 KiB) from 500 clients",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return slowBodies(ctx, t, 5000, Sources(500), t.dur(10*time.Second, 7*time.Second))
			}},
		{Name: "slow-headers", What: "1,000 connections from 100 clients each sending 60 KiB of headers, never finished",
			Run: slowHeaders},
		{Name: "big-headers", What: "64 connections sending requests with 60 KiB of headers back to back for 10 s",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				req := []byte("GET /api/v1/scheduling/strategies HTTP/1.1\r\nHost: 127.0.0.1\r\n" + padHeaders(60<<10) + "\r\n")
				return hammerFor(ctx, t, Sources(64), 64, req, t.dur(10*time.Second, 4*time.Second))
			}},
		{Name: "tiny-requests", What: "64 connections from one client sending GET /healthz back to back for 10 s",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return hammerFor(ctx, t, OneClient, 64, []byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), t.dur(10*time.Second, 4*time.Second))
			}},
		{Name: "huge-query", What: "32 connections asking for pods with a 60 KB label_selector, back to back for 10 s",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				var sel strings.Builder
				sel.WriteString("app+in+(")
				for i := 0; sel.Len() < 60_000; i++ {
					fmt.Fprintf(&sel, "v%d,", i)
				}
				req := []byte("GET /api/v1/pods/pids?label_selector=" + strings.TrimSuffix(sel.String(), ",") + ") HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
				return hammerFor(ctx, t, Sources(32), 32, req, t.dur(10*time.Second, 4*time.Second))
			}},
		{Name: "big-bodies", What: "64 clients posting 1 MiB chunked bodies back to back for 10 s",
			Run: func(ctx context.Context, t Target) (Outcome, error) {
				return hammerFor(ctx, t, Sources(64), 64, chunkedPost(1<<20), t.dur(10*time.Second, 4*time.Second))
			}},
	}
}

// sendJSON sends v as JSON and returns the answer.
func sendJSON(ctx context.Context, method, url string, v any) (int, []byte, time.Duration, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		return 0, []byte(err.Error()), time.Since(start), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, time.Since(start), nil
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
