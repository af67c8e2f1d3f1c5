package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

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
	client := &http.Client{Timeout: 5 * time.Second}
	for round := 1; round <= 3; round++ {
		cmd, url := startBinary(t, "--store=sqlite:"+db)
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
					body := fmt.Sprintf(`[{"nr_queued":%d},{"nr_queued":%d}]`, id, id+500_000_000)
					resp, err := client.Post(url+"/api/v1/metrics", "application/json", bytes.NewBufferString(body))
					if err != nil {
						return // the server died mid-request: not acknowledged
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
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
				req, _ := http.NewRequest(http.MethodPut, url+"/api/v1/scheduling/strategies/definitions/"+name,
					bytes.NewBufferString(`{"execution_time":1000000,"command_regex":"^x$"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
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
	stored := map[uint64]bool{}
	since := ""
	for {
		resp, err := client.Get(url + "/api/v1/metrics/history?limit=10000" + since)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			HasMore   bool   `json:"has_more"`
			NextSince string `json:"next_since"`
			Samples   []struct {
				NrQueued uint64 `json:"nr_queued"`
			} `json:"samples"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Samples {
			stored[s.NrQueued] = true
		}
		if !page.HasMore {
			break
		}
		since = "&since=" + page.NextSince
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
	resp, err := client.Get(url + "/api/v1/scheduling/strategies/definitions")
	if err != nil {
		t.Fatal(err)
	}
	var defs struct {
		Strategies []struct{ Name string } `json:"strategies"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&defs)
	resp.Body.Close()
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
