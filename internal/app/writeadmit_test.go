package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestWriteIncludesProcessStartedJustBefore starts a process, writes a pid
// strategy for it at once, and reads the strategies back: the process is
// there every time, because the write looks the PID up in /proc and answers
// only after a resolution that includes it (the README's promise that a GET
// after a write reflects it). With polling, the index would otherwise see a
// process outside pods only at its next full scan; with process events it
// would often, but not always, have seen it in time.
func TestWriteIncludesProcessStartedJustBefore(t *testing.T) {
	testenv.Require(t, os.Geteuid() == 0 || !testenv.Strict(), "")
	n := 1000
	if testing.Short() {
		n = 50
	}
	for _, mode := range []struct{ name, flag string }{
		{"polling", "--process-events=false"},
		{"events", "--process-events=true"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startServer(t, nil, mode.flag, "--reconcile-interval=1h", "--write-rate=100000", "--write-burst=100000")
			for i := range n {
				cmd := exec.Command("sleep", "3600")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pid := cmd.Process.Pid
				postStrategies(t, srv, fmt.Sprintf(`{"strategies":[{"priority":true,"execution_time":5000000,"pid":%d}]}`, pid))
				got := pidsInStrategies(t, srv)
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				if !got[pid] {
					t.Fatalf("iteration %d: GET strategies right after POST lacks PID %d (has %v)", i, pid, got)
				}
			}
		})
	}
}

// pidsInStrategies returns the PIDs GET strategies lists.
func pidsInStrategies(t *testing.T, srv *testServer) map[int]bool {
	t.Helper()
	res := srv.API.Get(t, "/api/v1/scheduling/strategies")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET strategies = %d %s", res.StatusCode, res.Body)
	}
	var v struct {
		Scheduling []struct {
			PID int `json:"pid"`
		} `json:"scheduling"`
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, e := range v.Scheduling {
		got[e.PID] = true
	}
	return got
}
