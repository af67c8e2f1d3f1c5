package bssctl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/client"
)

// TestGetAndExplain runs every get and explain against a server with the
// proc fixture and four strategies, and holds their output to golden files.
func TestGetAndExplain(t *testing.T) {
	srv := startServer(t, serverOpts{})
	seedStrategies(t, srv)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"get-strategies", []string{"get", "strategies"}},
		{"get-strategies-wide", []string{"get", "strategies", "-o", "wide"}},
		{"get-strategies-json", []string{"get", "strategies", "-o", "json"}},
		{"get-strategies-yaml", []string{"get", "st", "-o", "yaml"}},
		{"get-definitions", []string{"get", "definitions"}},
		{"get-definitions-yaml", []string{"get", "defs", "-o", "yaml"}},
		{"get-pods", []string{"get", "pods"}},
		{"get-pods-wide", []string{"get", "pods", "-o", "wide"}},
		{"get-pods-namespace", []string{"get", "pods", "-n", "monitoring"}},
		{"get-pods-selector-json", []string{"get", "pods", "-l", "app in (weird)", "-o", "json"}},
		{"explain-718001", []string{"explain", "718001"}},
		{"explain-800-json", []string{"explain", "800", "-o", "json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := srv.run(t, nil, tc.args...).ok(t, strings.Join(tc.args, " "))
			golden(t, tc.golden, r.out)
		})
	}

	// The data output is data: the pods' rows decode, and a process
	// boosted by a strategy carries it.
	var rows []struct {
		PID      int    `json:"pid"`
		Strategy string `json:"strategy"`
		Sandbox  bool   `json:"sandbox"`
	}
	r := srv.run(t, nil, "get", "pods", "-o", "json").ok(t, "get pods -o json")
	if err := json.Unmarshal([]byte(r.out), &rows); err != nil {
		t.Fatalf("get pods -o json: %v\n%s", err, r.out)
	}
	got := map[int]string{}
	for _, row := range rows {
		got[row.PID] = row.Strategy
		if row.PID == 717720 && !row.Sandbox {
			t.Error("the pause process (717720) is not marked as the sandbox")
		}
	}
	if got[718001] != "pinned" || got[800] != "weird" || got[717720] != "" || len(got) != 3 {
		t.Errorf("get pods -o json: PID → strategy %v, want 718001 pinned, 800 weird, 717720 none", got)
	}

	t.Run("a PID no strategy matches", func(t *testing.T) {
		srv.run(t, nil, "explain", "717720").fails(t, "explain 717720", 3, "no strategy matches PID 717720 (pod monitoring/loki-0)")
		srv.run(t, nil, "explain", "4000000").fails(t, "explain 4000000", 3, "not a process of a pod on this node")
		srv.run(t, nil, "explain", "abc").fails(t, "explain abc", 2, `PID "abc": want a positive integer`)
	})
}

// TestGetEmpty: with nothing stored, lists are empty tables (a note on
// stderr) and empty JSON arrays, never null.
func TestGetEmpty(t *testing.T) {
	srv := startServer(t, serverOpts{})
	r := srv.run(t, nil, "get", "strategies").ok(t, "get strategies")
	if r.out != "" || !strings.Contains(r.err, "No PID is given a strategy") {
		t.Errorf("get strategies with none: stdout %q, stderr %q", r.out, r.err)
	}
	for _, kind := range []string{"strategies", "definitions"} {
		r := srv.run(t, nil, "get", kind, "-o", "json").ok(t, "get "+kind+" -o json")
		if strings.TrimSpace(r.out) != "[]" {
			t.Errorf("get %s -o json with none = %q, want []", kind, r.out)
		}
	}
	srv.run(t, nil, "get", "metrics").fails(t, "get metrics before any", 3, "not found (404): no metrics received yet")
}

// TestMetrics posts samples and shows them: the latest, the history and the
// summary. A batch gets consecutive nanoseconds, so it has no rates (they
// need samples a second apart) and the output is the same every run.
func TestMetrics(t *testing.T) {
	srv := startServer(t, serverOpts{})
	batch := []client.Metrics{
		{UserschedPID: 1234, NrQueued: 10, NrScheduled: 5, NrRunning: 2, NrOnlineCPUs: 8, NrUserDispatches: 100,
			NrKernelDispatches: 50, NrCancelDispatches: 2, NrBounceDispatches: 1, NrSchedCongested: 3},
		{UserschedPID: 1234, NrQueued: 4, NrScheduled: 3, NrRunning: 1, NrOnlineCPUs: 8, NrUserDispatches: 300,
			NrKernelDispatches: 90, NrCancelDispatches: 2, NrBounceDispatches: 1, NrSchedCongested: 4},
	}
	if _, err := srv.api.PostMetricsBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"get-metrics", []string{"get", "metrics"}},
		{"get-metrics-yaml", []string{"get", "metrics", "-o", "yaml"}},
		{"get-metrics-history", []string{"get", "metrics", "--since", "1h"}},
		{"metrics-summary", []string{"metrics", "summary", "--window", "5m"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := srv.run(t, nil, tc.args...).ok(t, strings.Join(tc.args, " "))
			golden(t, tc.golden, mask(r.out))
		})
	}
	var sum client.MetricsSummary
	r := srv.run(t, nil, "metrics", "summary", "-o", "json").ok(t, "metrics summary -o json")
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil || sum.Samples != 2 || sum.Increases["nr_user_dispatches"] != 200 {
		t.Errorf("metrics summary -o json = %+v, %v; want 2 samples, nr_user_dispatches +200", sum, err)
	}
	r = srv.run(t, nil, "get", "metrics", "--since", "1h", "--limit", "1").ok(t, "history, one page")
	if strings.Count(r.out, "\n") != 2 || !strings.Contains(r.err, "More samples follow: --since") {
		t.Errorf("history with --limit 1: stdout %q, stderr %q; want one row and how to get the next page", r.out, r.err)
	}
	srv.run(t, nil, "metrics", "summary", "--window", "-1s").fails(t, "negative window", 2, "--window -1s")
	srv.run(t, nil, "get", "metrics", "--since", "yesterday").fails(t, "bad since", 1, "since")
}
