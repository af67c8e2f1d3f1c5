package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/store/sqlstore"
)

// startBinary runs the built server and returns its address.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"--listen=127.0.0.1:0", "--log-format=json", "--kube-mode=off"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	addr := ""
	for addr == "" && sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if addr == "" {
		t.Fatal("server never logged its address")
	}
	return cmd, "http://" + addr
}

// TestCrashKeepsAcknowledgedWrites drives concurrent metric posts and
// strategy writes into the real binary on SQLite, kills it with SIGKILL at
// a random moment, restarts it on the same file, and checks that every
// write that was answered 200/201 is there and the database is intact.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bss.db")
	var ackedSamples []uint64
	var ackedStrategies []string
	ctx := t.Context()
	for round := 1; round <= 3; round++ {
		cmd, url := startBinary(t, "--store=sqlite:"+db)
		// One attempt each: what counts is which writes were answered.
		c := newClient(t, url, client.WithRetry(client.NoRetry()))
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := uint64(round*1_000_000 + w*10_000 + i)
					_, err := c.PostMetricsBatch(ctx, []client.Metrics{{NrQueued: id}, {NrQueued: id + 500_000_000}})
					if diedMidRequest(err) {
						return // not acknowledged
					}
					if err == nil {
						mu.Lock()
						ackedSamples = append(ackedSamples, id, id+500_000_000)
						mu.Unlock()
					}
				}
			})
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("s-%d-%d", round, i)
				res, err := c.PutDefinition(ctx, name, client.Strategy{ExecutionTime: 1_000_000, CommandRegex: "^x$"})
				if diedMidRequest(err) {
					return
				}
				if err == nil && res.Created {
					mu.Lock()
					ackedStrategies = append(ackedStrategies, name)
					mu.Unlock()
				}
				if i == 900 { // stay under --max-strategies across rounds
					return
				}
			}
		})
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d samples and %d strategies acknowledged so far", round, len(ackedSamples), len(ackedStrategies))
	}

	cmd, url := startBinary(t, "--store=sqlite:"+db)
	c := newClient(t, url)
	stored := map[uint64]bool{}
	for q := (client.HistoryQuery{Limit: 10000}); ; {
		page, err := c.MetricsHistory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Samples {
			stored[s.NrQueued] = true
		}
		if !page.HasMore {
			break
		}
		q.Since = page.NextSince
	}
	missing := 0
	for _, id := range ackedSamples {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 || len(ackedSamples) == 0 {
		t.Errorf("%d of %d acknowledged samples are missing after the crashes", missing, len(ackedSamples))
	}
	defs, err := c.Definitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range defs.Strategies {
		names[s.Name] = true
	}
	for _, n := range ackedStrategies {
		if !names[n] {
			t.Errorf("acknowledged strategy %s is missing after the crashes", n)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	s, err := sqlstore.OpenSQLite(context.Background(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Errorf("after the crashes: %v", err)
	}
	t.Logf("%d samples and %d strategies acknowledged, all present; integrity ok", len(ackedSamples), len(ackedStrategies))
}

// newClient returns a client of the server at url with a request timeout
// of 5 s.
func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, append([]client.Option{client.WithTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diedMidRequest reports whether err is a connection error rather than an
// answer: the server is gone, and nothing more will be acknowledged.
func diedMidRequest(err error) bool {
	var apiErr *client.APIError
	return err != nil && !errors.As(err, &apiErr)
}
