package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the server's own SQLite driver, to write rows behind its back

	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestLimitFlagsAreTheStrategyPackages: the flags that the strategy
// package's errors name exist, and their defaults are its defaults.
func TestLimitFlagsAreTheStrategyPackages(t *testing.T) {
	var usage strings.Builder
	if _, err := config.Parse([]string{"--help"}, func(string) string { return "" }, &usage); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("Parse(--help) = %v", err)
	}
	for _, name := range []string{strategy.FlagStrategies, strategy.FlagBytes, strategy.FlagListItems, strategy.FlagRegexBytes,
		strategy.FlagRegexInstructions, strategy.FlagTotalRegexInstructions, strategy.FlagConcurrentPreviews} {
		if !strings.Contains(usage.String(), "\n  -"+strings.TrimPrefix(name, "--")+" ") {
			t.Errorf("errors name %s, which is not a flag", name)
		}
	}
	cfg, err := config.Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strategyLimits(cfg), strategy.DefaultLimits(); got != want {
		t.Errorf("the flags' defaults are %+v, the strategy package's %+v", got, want)
	}
	// The smallest total allowed holds one strategy of the largest size.
	if _, err := config.Parse([]string{fmt.Sprintf("--max-strategies-bytes=%d", strategy.MaxDefinitionBytes)}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("--max-strategies-bytes=%d refused: %v", strategy.MaxDefinitionBytes, err)
	}
	if _, err := config.Parse([]string{fmt.Sprintf("--max-strategies-bytes=%d", strategy.MaxDefinitionBytes-1)}, func(string) string { return "" }, io.Discard); err == nil {
		t.Errorf("--max-strategies-bytes below one strategy's largest size accepted")
	}
}

// TestStoredSetBreakingTheLimits writes, straight into the SQLite file, a
// stored set that breaks today's limits as the attacks left it
// (100 strategies of a 945-byte regex compiling to 43,002 instructions;
// 40 of ~1.2 MB with 100,000 namespaces), plus a strategy with too many
// namespaces, a damaged row and one valid hand-written row, and starts the
// server on it: it starts, serves every valid strategy, says in /health
// which it skipped and why, and logs it once.
func TestStoredSetBreakingTheLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.db")
	fixture := "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
	args := []string{"--store=sqlite:" + file, fixture, "--cgroup-root=" + t.TempDir(), "--kube-mode=off"}

	srv := startServer(t, nil, args...)
	postStrategies(t, srv, `{"strategies":[{"name":"loki","priority":true,"execution_time":20000000,"command_regex":"^loki$"}]}`)
	stopServer(t, srv)

	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	attack := strings.Repeat(`(?:(?:a{10}){10}){10}`, 43)
	wide := make([]string, 100_000)
	for i := range wide {
		wide[i] = fmt.Sprintf("ns-%06d", i)
	}
	wideJSON, _ := json.Marshal(wide)
	var rows []string // name, body
	for i := range 100 {
		rows = append(rows, fmt.Sprintf("attack-%d", i), fmt.Sprintf(`{"name":"attack-%d","priority":true,"execution_time":1000000,"command_regex":%q}`, i, attack))
	}
	for i := range 40 {
		rows = append(rows, fmt.Sprintf("wide-%d", i), fmt.Sprintf(`{"name":"wide-%d","priority":true,"execution_time":1000000,"namespaces":%s}`, i, wideJSON))
	}
	rows = append(rows,
		"namespaces-1000", `{"name":"namespaces-1000","priority":false,"execution_time":1000000,"namespaces":`+string(must(json.Marshal(wide[:1000])))+`}`,
		"damaged", `{"name":"damaged","execution_time":`,
		"hand", `{"name":"hand","priority":false,"execution_time":10000000,"pid":717720}`)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rows); i += 2 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO strategies (position, name, body) VALUES (?, ?, ?)`, 1+i/2, rows[i], rows[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, nil, args...)
	// The valid strategies are served: loki (718001, by its regex) and the
	// hand-written pid strategy (717720).
	waitFor(t, 10*time.Second, "the valid strategies resolved", func() bool {
		body := string(srv.API.Get(t, "/api/v1/scheduling/strategies").Body)
		return strings.Contains(body, `"pid":718001`) && strings.Contains(body, `"pid":717720`)
	})
	h := healthOf(t, srv, "strategies")
	for _, want := range []string{
		"degraded: 142 of the 144 stored strategies are not applied: ",
		"attack-0 (command_regex: compiles to at least 21501 instructions, at most 2000 allowed (--max-regex-instructions))",
		"and 137 more",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("health of strategies %q lacks %q", h, want)
		}
	}
	res := srv.API.Get(t, "/health")
	if res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), `"status":"healthy"`) {
		t.Errorf("/health = %d %s; a degraded component leaves the server healthy", res.StatusCode, res.Body)
	}
	const warned = `"msg":"stored strategies break the limits and are not applied; the others are"`
	warning := func() string {
		for line := range strings.Lines(srv.Logs.String()) {
			if strings.Contains(line, warned) {
				return line
			}
		}
		return ""
	}
	line := warning()
	for _, want := range []string{`"skipped":142`, `"applied":2`, `"attack-0"`, `"wide-39"`, `"namespaces-1000","damaged"]`, "and 137 more"} {
		if !strings.Contains(line, want) {
			t.Errorf("the log line lacks %q: %s", want, line)
		}
	}
	if len(line) > 8<<10 {
		t.Errorf("the log line is %d bytes long", len(line))
	}
	// The definitions list every stored strategy, the unreadable ones by
	// name and why (validated against the OpenAPI document).
	defs := string(srv.API.Get(t, "/api/v1/scheduling/strategies/definitions").Body)
	for _, want := range []string{`{"name":"wide-39","unreadable":"1200074 bytes as stored, more than the 65536 bytes a strategy may have"}`,
		`{"name":"damaged","unreadable":"not a strategy this server can read: body: Invalid JSON format: unexpected end of input"}`,
		`{"name":"hand","priority":false,"execution_time":10000000,"pid":717720}`} {
		if !strings.Contains(defs, want) {
			t.Errorf("definitions lack %s", want)
		}
	}
	// The set holds 48 MB of unreadable definitions, past
	// --max-strategies-bytes: a PUT is refused and says what to do.
	res = srv.API.Do(t, srv.API.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/ping", "application/json",
		[]byte(`{"execution_time":1000000,"command_regex":"^ping$"}`)))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), "at most 4194304 allowed (--max-strategies-bytes)") ||
		!strings.Contains(string(res.Body), "41 stored strategies cannot be read (GET /health names them)") {
		t.Errorf("PUT on the oversized set = %d %s", res.StatusCode, res.Body)
	}
	// A write that reads the set again logs nothing new while the skipped
	// strategies stay the same.
	if res := srv.API.Do(t, srv.API.NewRequest(t, http.MethodDelete, "/api/v1/scheduling/strategies/definitions/hand", "", nil)); res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE = %d %s", res.StatusCode, res.Body)
	}
	if n := strings.Count(srv.Logs.String(), warned); n != 1 {
		t.Errorf("%d log lines about the skipped strategies, want 1", n)
	}
	if h := healthOf(t, srv, "strategies"); !strings.HasPrefix(h, "degraded: 142 of the 143 stored strategies are not applied") {
		t.Errorf("health after the delete: %s", h)
	}
	// Replacing the whole list repairs it.
	postStrategies(t, srv, `{"strategies":[{"name":"loki","priority":true,"execution_time":20000000,"command_regex":"^loki$"}]}`)
	if h := healthOf(t, srv, "strategies"); h != "ok: 1 stored, all applied" {
		t.Errorf("health after a valid list: %s", h)
	}
	if !strings.Contains(srv.Logs.String(), `"msg":"every stored strategy is applied again"`) {
		t.Error("no log line saying every stored strategy is applied again")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
