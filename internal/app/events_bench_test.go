package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// BenchmarkExecToStrategies measures, through the running server, how long
// after a shell in a pod cgroup execs a program that a command_regex
// strategy matches GET strategies lists it (polled every millisecond), and
// how long after it is killed the list drops it: with process events, and
// with polling alone at the default 500 ms.
//
//	go test -run '^$' -bench ExecToStrategies -benchtime 100x ./internal/app
func BenchmarkExecToStrategies(b *testing.B) {
	h := testenv.CgroupHierarchies(b)[0]
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		b.Skip("no sleep program")
	}
	link := filepath.Join(b.TempDir(), "evapp")
	if err := os.Symlink(sleep, link); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct{ name, flag string }{
		{"source=events", "--process-events=true"},
		{"source=polling", "--process-events=false"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			tree := testenv.NewCgroupTree(b, h)
			container := "kubepods/pod" + testenv.RandomUID() + "/" + testenv.RandomContainerID()
			tree.Mkdir(container)
			srv := startServerB(b, "--cgroup-root="+h.CgroupRoot, "--reconcile-interval=1h", mode.flag)
			srv.post(b, `{"strategies":[{"name":"evapp","priority":true,"execution_time":5000000,"command_regex":"^evapp$"}]}`)
			var execs, exits []time.Duration
			for b.Loop() {
				cmd := exec.Command("/bin/sh", "-c", `read x; exec "$0" 3600`, link)
				stdin, err := cmd.StdinPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				pid := cmd.Process.Pid
				tree.Move(pid, container)
				start := time.Now()
				_, _ = io.WriteString(stdin, "\n")
				srv.until(b, func(pids map[int]bool) bool { return pids[pid] })
				execs = append(execs, time.Since(start))
				start = time.Now()
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				srv.until(b, func(pids map[int]bool) bool { return !pids[pid] })
				exits = append(exits, time.Since(start))
			}
			testenv.ReportPercentiles(b, "exec", execs)
			testenv.ReportPercentiles(b, "exit", exits)
		})
	}
}

// benchServer is the server run for a benchmark, read with a plain client.
type benchServer struct{ url string }

// startServerB runs the server with args on a free loopback port until the
// benchmark ends, and waits until it is ready.
func startServerB(b *testing.B, args ...string) *benchServer {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	all := append([]string{"--listen=127.0.0.1:0", "--node-name=test-node", "--log-level=warn", "--data-dir=" + b.TempDir()}, args...)
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, all, func(string) string { return "" }, io.Discard, io.Discard, func(a []net.Addr) { addr <- a[0] })
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	select {
	case a := <-addr:
		srv := &benchServer{url: "http://" + a.String()}
		srv.until(b, func(map[int]bool) bool { return true })
		return srv
	case err := <-done:
		b.Fatalf("server exited: %v", err)
	}
	return nil
}

func (s *benchServer) post(b *testing.B, body string) {
	b.Helper()
	res, err := http.Post(s.url+"/api/v1/scheduling/strategies", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		b.Fatalf("POST strategies = %d %s", res.StatusCode, msg)
	}
}

// until polls GET strategies every millisecond, for up to 10 s, until ok
// holds for the PIDs it lists.
func (s *benchServer) until(b *testing.B, ok func(pids map[int]bool) bool) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := s.pids()
		if err == nil && ok(pids) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out polling GET strategies (last error %v)", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *benchServer) pids() (map[int]bool, error) {
	res, err := http.Get(s.url + "/api/v1/scheduling/strategies")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET strategies = %d", res.StatusCode)
	}
	var v struct {
		Scheduling []struct {
			PID int `json:"pid"`
		} `json:"scheduling"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		return nil, err
	}
	pids := make(map[int]bool, len(v.Scheduling))
	for _, e := range v.Scheduling {
		pids[e.PID] = true
	}
	return pids, nil
}

// BenchmarkServerForkStorm runs a fork storm (5,000 short processes a
// second for 10 s) in a pod cgroup that a strategy targets, with process
// events, and reports the CPU this process (the whole server) used
// meanwhile, in cores, and whether GET /api/v1/pods/pids then lists exactly
// the pod's processes (equal=1): with no other pod processes, and with
// 10,000 idle ones in 500 pods, which the strategy targets too.
//
//	go test -run '^$' -bench ServerForkStorm -benchtime 1x ./internal/app
func BenchmarkServerForkStorm(b *testing.B) {
	h := testenv.CgroupHierarchies(b)[0]
	bin := testenv.ForkStorm(b)
	const rate, secs = 5000, 10
	for _, idle := range []int{0, 10000} {
		b.Run(fmt.Sprintf("podprocs=%d", idle), func(b *testing.B) {
			for b.Loop() {
				serverStorm(b, h, bin, idle, rate, secs)
			}
		})
	}
}

func serverStorm(b *testing.B, h testenv.Hierarchy, bin string, idle, rate, secs int) {
	tree := testenv.NewCgroupTree(b, h)
	for range idle / 20 {
		rel := "kubepods/besteffort/pod" + testenv.RandomUID() + "/" + testenv.RandomContainerID()
		tree.Mkdir(rel)
		tree.Hold(bin, rel, 20)
	}
	uid := testenv.RandomUID()
	container := "kubepods/pod" + uid + "/" + testenv.RandomContainerID()
	tree.Mkdir(container)
	srv := startServerB(b, "--cgroup-root="+h.CgroupRoot, "--reconcile-interval=1h")
	srv.post(b, `{"strategies":[{"name":"all","priority":true,"execution_time":5000000,"command_regex":".*"}]}`)
	storm := exec.Command(bin, strconv.Itoa(rate), strconv.Itoa(secs))
	stdin, err := storm.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := storm.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := storm.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = storm.Process.Kill(); _ = storm.Wait() }()
	tree.Move(storm.Process.Pid, container)
	cpu0, wall0 := selfCPU(), time.Now()
	_, _ = io.WriteString(stdin, "\n")
	if _, err := stdout.Read(make([]byte, 5)); err != nil {
		b.Fatalf("the storm did not finish: %v", err)
	}
	took := time.Since(wall0)
	cores := (selfCPU() - cpu0).Seconds() / took.Seconds()
	time.Sleep(300 * time.Millisecond) // the last events and debounces
	got := srv.podPIDs(b, uid)
	want := cgroupPIDs(b, tree.Path(container))
	equal := 0.0
	if slices.Equal(got, want) {
		equal = 1
	} else {
		b.Logf("after the storm GET pods/pids lists %v, the cgroup %v", got, want)
	}
	b.ReportMetric(cores, "cpu-cores")
	b.ReportMetric(float64(rate*secs)/took.Seconds(), "forks/s")
	b.ReportMetric(equal, "equal")
}

// selfCPU is the CPU this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cgroupPIDs lists the processes of a cgroup directory, ascending.
func cgroupPIDs(b *testing.B, dir string) []int {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// podPIDs returns the PIDs GET /api/v1/pods/pids lists for pod uid.
func (s *benchServer) podPIDs(b *testing.B, uid string) []int {
	b.Helper()
	res, err := http.Get(s.url + "/api/v1/pods/pids")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		Pods []struct {
			PodUID    string `json:"pod_uid"`
			Processes []struct {
				PID int `json:"pid"`
			} `json:"processes"`
		} `json:"pods"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		b.Fatal(err)
	}
	var pids []int
	for _, p := range v.Pods {
		if p.PodUID != uid {
			continue
		}
		for _, pr := range p.Processes {
			pids = append(pids, pr.PID)
		}
	}
	slices.Sort(pids)
	return pids
}
