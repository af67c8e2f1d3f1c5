package bssctl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/bssctl"
)

// watchRun runs bssctl watch in process until it returns, and gives its
// output as it comes.
type watchRun struct {
	out, errOut *syncBuffer
	exited      chan struct{} // closed when Run returned
	code        int           // Run's exit status, once exited
	cancel      context.CancelFunc
}

// wait waits for the watch to end and returns its exit status.
func (w *watchRun) wait(t *testing.T, what string) int {
	t.Helper()
	select {
	case <-w.exited:
		return w.code
	case <-time.After(20 * time.Second):
		t.Fatalf("watch did not end: %s", what)
		return -1
	}
}

func startWatch(t *testing.T, srv *server, args ...string) *watchRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchRun{out: &syncBuffer{}, errOut: &syncBuffer{}, exited: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.exited)
		w.code = bssctl.Run(ctx, args, bssctl.IO{In: strings.NewReader(""), Out: w.out, Err: w.errOut,
			Getenv: func(k string) string { return map[string]string{"BSS_SERVER": srv.url}[k] }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.exited:
		case <-time.After(30 * time.Second):
			t.Error("watch did not end within 30s of its cancel")
		}
	})
	return w
}

func (w *watchRun) waitOutput(t *testing.T, what, want string) {
	t.Helper()
	waitFor(t, 20*time.Second, what, func() bool { return strings.Contains(w.out.String(), want) })
}

// TestWatchStrategies: the watch prints the current strategies, then each
// change as it happens, and Ctrl-C (the context's end) ends it with 0.
func TestWatchStrategies(t *testing.T) {
	srv := startServer(t, serverOpts{})
	ctx := context.Background()
	w := startWatch(t, srv, "watch", "strategies")
	w.waitOutput(t, "the header", "EVENT")

	if _, err := srv.api.PutDefinition(ctx, "weird", client.Strategy{Priority: 3, ExecutionTime: 5_000_000, CommandRegex: "weird"}); err != nil {
		t.Fatal(err)
	}
	w.waitOutput(t, "the new strategy's PID", "ADDED")
	if _, err := srv.api.PutDefinition(ctx, "weird", client.Strategy{Priority: 3, ExecutionTime: 7_000_000, CommandRegex: "weird"}); err != nil {
		t.Fatal(err)
	}
	w.waitOutput(t, "the changed priority", "MODIFIED")
	if err := srv.api.DeleteDefinition(ctx, "weird"); err != nil {
		t.Fatal(err)
	}
	w.waitOutput(t, "the PID leaving", "DELETED")
	w.cancel()
	if code := w.wait(t, "on Ctrl-C"); code != 0 {
		t.Errorf("watch ended by Ctrl-C: exit %d, stderr %q", code, w.errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(w.out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("watch printed %d lines, want the header and 3 events:\n%s", len(lines), w.out.String())
	}
	for i, want := range []string{"ADDED", "MODIFIED", "DELETED"} {
		f := strings.Fields(lines[i+1])
		// EVENT VERSION PID PRIORITY SLICE STRATEGY POD COMMAND...
		if len(f) < 8 || f[0] != want || f[2] != "800" || f[5] != "weird" || f[6] != "apps/weird-0" {
			t.Errorf("event %d = %q, want %s of PID 800 by weird in apps/weird-0", i+1, lines[i+1], want)
		}
	}
	// The server's default --priority-format=bool shows levels 3 as 1 (true).
	if f := strings.Fields(lines[2]); len(f) < 5 || f[3] != "1" || f[4] != "7ms" {
		t.Errorf("MODIFIED line %q: want priority 1 and the new slice 7ms", lines[2])
	}
}

// TestWatchJSON: -o json prints one answer per line; --count ends the watch.
func TestWatchJSON(t *testing.T) {
	srv := startServer(t, serverOpts{})
	seedStrategies(t, srv)
	w := startWatch(t, srv, "watch", "strategies", "-o", "json", "--count", "2")
	w.waitOutput(t, "the first answer", "\n")
	if err := srv.api.DeleteDefinition(context.Background(), "pinned"); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t, "--count 2, after the second answer"); code != 0 {
		t.Fatalf("watch --count 2: exit %d, stderr %q", code, w.errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(w.out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("watch -o json printed %d lines, want 2:\n%s", len(lines), w.out.String())
	}
	var first, second client.Strategies
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if len(first.Scheduling) != 2 || len(second.Scheduling) != 2 || second.Version <= first.Version {
		t.Errorf("answers: %d PIDs at version %d, then %d at %d; want 2 and 2 (718001 goes to loki), version up",
			len(first.Scheduling), first.Version, len(second.Scheduling), second.Version)
	}
	for _, e := range second.Scheduling {
		if e.PID == 718001 && e.Strategy != "loki" {
			t.Errorf("after deleting pinned, 718001 went to %q, want loki", e.Strategy)
		}
	}
}
