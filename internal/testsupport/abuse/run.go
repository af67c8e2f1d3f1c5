// Package abuse runs attacks against the built server inside a real
// memory cgroup with the manifest's limit, while a normal client keeps
// using it, and reports for each whether the server survived, its peak
// memory, the normal client's latency and anything acknowledged that was
// lost. The root package's TestAbuse asserts on it; cmd/bss-abuse prints
// it as a table.
package abuse

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ManifestLimit is the memory limit of k8s/deployment.yaml.
const ManifestLimit = 192 << 20

// Options configure a run.
type Options struct {
	Binary string   // the server, built by hack/build.sh
	Limit  int64    // the cgroup's memory limit; default ManifestLimit
	Dir    string   // for the servers' data and logs
	Args   []string // more server flags
	Logf   func(format string, args ...any)
	// Short runs timed attacks for a shorter while, at the same sizes.
	Short bool
}

// Result is what one attack did to the server.
type Result struct {
	Attack string
	// Killed: the server process died (OOMKills says whether the kernel
	// killed it for memory); Exit says how.
	Killed   bool
	OOMKills int
	Exit     string
	// Ready: /readyz answered 200 after the attack.
	Ready bool
	// PeakRSS is the server's peak resident set (VmHWM), the larger of its
	// runs; CgroupPeak the cgroup's peak charge (page cache included);
	// PeakHeap the largest Go heap in use that /metrics showed during the
	// attack, sampled every 250 ms.
	PeakRSS, CgroupPeak, PeakHeap int64
	Limit                         int64
	Normal                        Stats
	// Lost lists what the server acknowledged and no longer has.
	Lost []string
	// Restart, for attacks that write strategies: "ok", or how the
	// server failed to start again on the data they left.
	Restart string
	Notes   string
	Limits  []string // the server's log lines about its limits
}

// Survived reports whether the server came through the attack: never
// killed, ready afterwards, able to start again on what was stored, and
// nothing acknowledged lost.
func (r Result) Survived() bool {
	return !r.Killed && r.OOMKills == 0 && r.Ready && (r.Restart == "" || r.Restart == "ok") && len(r.Lost) == 0
}

// Run runs attack a against a fresh server in a fresh cgroup. An error
// means the run itself failed (no cgroup, no binary), not the server.
func Run(ctx context.Context, o Options, a Attack) (res Result, err error) {
	if o.Limit == 0 {
		o.Limit = ManifestLimit
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	res = Result{Attack: a.Name, Limit: o.Limit}
	dir := filepath.Join(o.Dir, a.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	cg, err := NewCgroup(fmt.Sprintf("bss-abuse-%d-%s", os.Getpid(), a.Name), o.Limit)
	if err != nil {
		return res, err
	}
	defer func() {
		if rerr := cg.Remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	args := append([]string{"--data-dir=" + filepath.Join(dir, "data")}, o.Args...)
	srv, err := StartServer(cg, o.Binary, filepath.Join(dir, "server.log"), args...)
	if err != nil {
		return res, err
	}
	defer func() {
		if done, _ := srv.Exited(); !done {
			srv.Kill()
		}
	}()
	if err := srv.WaitReady(ctx, 30*time.Second); err != nil {
		return res, err
	}
	res.Limits = srv.Lines()

	normal := NewNormal(srv.URL, uint64(rand.Int32())<<20)
	nctx, stopNormal := context.WithCancel(ctx)
	normalDone := make(chan struct{})
	go func() {
		defer close(normalDone)
		normal.Run(nctx, 20*time.Millisecond)
	}()
	sleep(ctx, time.Second) // the normal client's pace before the attack

	o.Logf("%s: %s", a.Name, a.What)
	hctx, stopHeap := context.WithCancel(ctx)
	heapDone := make(chan int64)
	go func() { heapDone <- sampleHeap(hctx, srv.URL) }()
	start := time.Now()
	out, aerr := a.Run(ctx, Target{URL: srv.URL, Addr: srv.Addr, Short: o.Short})
	stopHeap()
	res.PeakHeap = <-heapDone
	res.Notes = out.Notes
	o.Logf("%s: attack done in %s: %s", a.Name, time.Since(start).Round(100*time.Millisecond), out.Notes)
	sleep(ctx, 2*time.Second) // and after it
	stopNormal()
	<-normalDone
	res.Normal = normal.Stats()
	if aerr != nil {
		return res, fmt.Errorf("attack %s: %w", a.Name, aerr)
	}

	res.inspect(ctx, srv, cg)
	if !res.Killed && res.Ready {
		res.Lost = lost(ctx, srv.URL, normal.Acked(), out.Strategies, a.PrunesHistory)
	}
	o.Logf("%s: inspected (killed %v, ready %v, lost %d)", a.Name, res.Killed, res.Ready, len(res.Lost))
	if a.Writes && !res.Killed {
		res.Restart = restart(ctx, srv, cg, o.Binary, filepath.Join(dir, "restart.log"), args, out.Strategies, &res)
	}
	if done, _ := srv.Exited(); !done {
		if err := srv.Stop(); err != nil {
			res.Exit = "on SIGTERM: " + err.Error()
		}
	}
	o.Logf("%s: stopped", a.Name)
	return res, nil
}

// sampleHeap polls the server's go_memstats_heap_inuse_bytes until ctx
// is done and returns the largest value seen.
func sampleHeap(ctx context.Context, base string) int64 {
	c := &http.Client{Timeout: 2 * time.Second}
	var peak int64
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		if resp, err := c.Do(req); err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						peak = max(peak, int64(f))
					}
				}
			}
			resp.Body.Close()
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return peak
}

// inspect records whether srv is alive and ready and what it used.
func (r *Result) inspect(ctx context.Context, srv *Server, cg *Cgroup) {
	r.PeakRSS = max(r.PeakRSS, srv.PeakRSS())
	if kills, err := cg.OOMKills(); err == nil {
		r.OOMKills += kills
	}
	_, peak := cg.Usage()
	r.CgroupPeak = max(r.CgroupPeak, peak)
	if done, err := srv.Exited(); done {
		r.Killed, r.Exit = true, fmt.Sprint(err)
		return
	}
	r.Ready = srv.WaitReady(ctx, 10*time.Second) == nil
}

// restart stops srv and starts the server again on the same data in the
// same cgroup: what the attack stored must load within the limit, the
// acknowledged strategies still be there, and the server stay up while
// it resolves them.
func restart(ctx context.Context, srv *Server, cg *Cgroup, bin, log string, args, strategies []string, r *Result) string {
	if err := srv.Stop(); err != nil {
		return "stopping: " + err.Error()
	}
	again, err := StartServer(cg, bin, log, args...)
	if err != nil {
		return err.Error()
	}
	defer func() {
		if done, _ := again.Exited(); !done {
			_ = again.Stop()
		}
	}()
	if err := again.WaitReady(ctx, 60*time.Second); err != nil {
		r.inspect(ctx, again, cg)
		return "not ready: " + err.Error()
	}
	sleep(ctx, 3*time.Second) // resolving what was stored
	r.inspect(ctx, again, cg)
	if r.Killed || !r.Ready {
		return "died after starting again: " + r.Exit
	}
	if missing := lost(ctx, again.URL, nil, strategies, false); len(missing) > 0 {
		r.Lost = append(r.Lost, missing...)
		return "started, without what was acknowledged"
	}
	return "ok"
}

// lost returns what the server acknowledged and no longer has: samples
// (by nr_queued; with pruned, only the last must be there) and strategies
// (by name).
func lost(ctx context.Context, base string, samples []uint64, strategies []string, pruned bool) []string {
	var out []string
	c := &http.Client{Timeout: 30 * time.Second}
	get := func(path string, v any) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	if len(strategies) > 0 {
		var defs struct{ Strategies []struct{ Name string } }
		if err := get("/api/v1/scheduling/strategies/definitions", &defs); err != nil {
			return []string{"strategies unreadable: " + err.Error()}
		}
		have := map[string]bool{}
		for _, s := range defs.Strategies {
			have[s.Name] = true
		}
		for _, n := range strategies {
			if !have[n] {
				out = append(out, "strategy "+n)
			}
		}
	}
	if len(samples) == 0 {
		return out
	}
	if pruned {
		// The newest sample is the normal client's last: it posted after
		// the attack stopped.
		var latest struct {
			Metrics struct {
				NrQueued uint64 `json:"nr_queued"`
			} `json:"metrics"`
		}
		if err := get("/api/v1/metrics", &latest); err != nil {
			return append(out, "latest sample unreadable: "+err.Error())
		}
		if last := samples[len(samples)-1]; latest.Metrics.NrQueued != last {
			out = append(out, fmt.Sprintf("the last acknowledged sample (nr_queued %d; the latest is %d)", last, latest.Metrics.NrQueued))
		}
		return out
	}
	have := map[uint64]bool{}
	since := ""
	for range 1000 {
		var page struct {
			HasMore   bool   `json:"has_more"`
			NextSince string `json:"next_since"`
			Samples   []struct {
				NrQueued uint64 `json:"nr_queued"`
			} `json:"samples"`
		}
		path := "/api/v1/metrics/history?limit=10000"
		if since != "" {
			path += "&since=" + url.QueryEscape(since)
		}
		if err := get(path, &page); err != nil {
			return append(out, "history unreadable: "+err.Error())
		}
		for _, s := range page.Samples {
			have[s.NrQueued] = true
		}
		if !page.HasMore {
			break
		}
		since = page.NextSince
	}
	missing := 0
	for _, id := range samples {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		out = append(out, fmt.Sprintf("%d of %d acknowledged samples", missing, len(samples)))
	}
	return out
}

// Names returns the names of attacks, in table order.
func Names(as []Attack) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return slices.Clip(out)
}
