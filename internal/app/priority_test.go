package app

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// schedulerDecoder decodes an answer as one scheduler version does, with
// json.Unmarshal into its own struct from scheduler-clients.md
// (schedulerClientView for C1 to C4, whose priority is a Go bool;
// c5Strategies for C5, whose priority is a Go int), and returns what it
// would apply: per PID, the priority as it reads it (a bool as 1 or 0).
type schedulerDecoder struct {
	name   string
	decode func(body []byte) (map[int]int, error)
}

func decodeAsBoolClient(body []byte) (map[int]int, error) {
	var a schedulerClientView
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, e := range a.Scheduling {
		out[e.PID] = 0
		if e.Priority {
			out[e.PID] = 1
		}
	}
	return out, nil
}

func decodeAsIntClient(body []byte) (map[int]int, error) {
	var a c5Strategies
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, e := range a.Scheduling {
		out[e.PID] = e.Priority
	}
	return out, nil
}

var schedulerDecoders = []schedulerDecoder{
	{"C1", decodeAsBoolClient}, {"C2", decodeAsBoolClient}, {"C3", decodeAsBoolClient}, {"C4", decodeAsBoolClient},
	{"C5", decodeAsIntClient},
}

// levelStrategies on the /proc fixture: loki (718001) at level 3, sshd
// (200) written as the seed's true, pause (717720) as false.
const levelStrategies = `{"strategies":[
  {"name":"loki","priority":3,"execution_time":20000000,"command_regex":"^loki$"},
  {"name":"sshd","priority":true,"execution_time":5000000,"pid":200},
  {"name":"pause","priority":false,"execution_time":10000000,"pid":717720}]}`

func fixtureProcRoot(t *testing.T) string {
	return "--proc-root=" + filepath.Join(testenv.RepoRoot(t), "internal", "procs", "testdata", "proc")
}

// TestSchedulerClientsDecodePriority decodes the real server's GET
// strategies answers with every scheduler version's struct, in each
// --priority-format. bool serves C1 to C4 and int serves C5; the other
// pairings fail the whole decode (so the scheduler applies nothing, on
// every poll), which is why the flag exists and must match the node's
// scheduler.
func TestSchedulerClientsDecodePriority(t *testing.T) {
	for _, tt := range []struct {
		format  string
		serves  map[string]bool // the versions that decode this format
		applied map[int]int     // what those versions apply, per PID
		wrong   string          // the JSON type the others are given
	}{
		{"bool", map[string]bool{"C1": true, "C2": true, "C3": true, "C4": true}, map[int]int{200: 1, 717720: 0, 718001: 1}, "bool"},
		{"int", map[string]bool{"C5": true}, map[int]int{200: 1, 717720: 0, 718001: 3}, "number"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			srv := startServer(t, nil, "--priority-format="+tt.format, fixtureProcRoot(t), "--cgroup-root="+t.TempDir(), "--kube-mode=off")
			postStrategies(t, srv, levelStrategies)
			res := srv.API.Get(t, "/api/v1/scheduling/strategies") // checked against the OpenAPI document
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET strategies = %d %s", res.StatusCode, res.Body)
			}
			for _, c := range schedulerDecoders {
				got, err := c.decode(res.Body)
				if tt.serves[c.name] {
					if err != nil || !maps.Equal(got, tt.applied) {
						t.Errorf("%s decodes the %s answer to %v, %v; want %v", c.name, tt.format, got, err, tt.applied)
					}
					continue
				}
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) || te.Value != tt.wrong || te.Field != "scheduling.priority" {
					t.Errorf("%s decoding the %s answer: %v; want a type error at scheduling.priority, given a %s", c.name, tt.format, err, tt.wrong)
				}
			}
		})
	}
}

// TestPriorityReadsBackAfterRestart: definitions written with true, false
// and levels read back in the same form after a restart, in SQLite and in
// PostgreSQL; the format of the resolved answer follows the flag of the
// server that answers, not the form the definitions were written in.
func TestPriorityReadsBackAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "state.db") }},
		{"postgres", func(t *testing.T) string { return testenv.StartPostgres(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			common := []string{"--store=" + tt.store(t), fixtureProcRoot(t), "--cgroup-root=" + t.TempDir(), "--kube-mode=off"}
			srv := startServer(t, nil, append(common, "--priority-format=bool")...)
			postStrategies(t, srv, levelStrategies)
			req := srv.API.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/pause", "application/json",
				[]byte(`{"priority":0,"execution_time":10000000,"pid":717720}`))
			if res := srv.API.Do(t, req); res.StatusCode != http.StatusOK {
				t.Fatalf("PUT = %d %s", res.StatusCode, res.Body)
			}
			wantDefs := []string{`{"name":"loki","priority":3,`, `{"name":"sshd","priority":true,`, `{"name":"pause","priority":0,`}
			checkDefs := func(when string) {
				t.Helper()
				defs := string(srv.API.Get(t, "/api/v1/scheduling/strategies/definitions").Body)
				for _, want := range wantDefs {
					if !strings.Contains(defs, want) {
						t.Errorf("%s: definitions lack %s: %s", when, want, defs)
					}
				}
			}
			checkDefs("before the restart")
			stopServer(t, srv)

			srv = startServer(t, nil, append(common, "--priority-format=int")...)
			checkDefs("after the restart")
			got := poll(t, 10*time.Second, "the resolution after the restart", func() (map[int]int, bool) {
				res := srv.API.Get(t, "/api/v1/scheduling/strategies")
				got, err := decodeAsIntClient(res.Body)
				return got, res.StatusCode == http.StatusOK && err == nil && len(got) == 3
			})
			if want := map[int]int{200: 1, 717720: 0, 718001: 3}; !maps.Equal(got, want) {
				t.Errorf("after the restart with --priority-format=int: %v, want %v", got, want)
			}
		})
	}
}
