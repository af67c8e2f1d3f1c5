package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/notify"
)

// Options configure an Index.
type Options struct {
	ProcRoot   string // the host's /proc
	CgroupRoot string // the host's /sys/fs/cgroup
	// ReconcileInterval is the period of the full /proc scan that corrects
	// anything the events and polls missed.
	ReconcileInterval time.Duration
	// PollInterval is the period of the cheap poll of every known container
	// cgroup's cgroup.procs, which sees processes enter and leave pods.
	PollInterval time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Index keeps a versioned snapshot of which processes run in which pods.
// Snapshot and Subscribe are safe for concurrent use; Run must be called
// once, and owns all scanning.
type Index struct {
	opts Options
	log  *slog.Logger
	snap atomic.Pointer[Snapshot]

	notify.Notifier // after each new snapshot

	watched atomic.Pointer[[]int] // PIDs outside pods to check at every poll

	// Owned by Run.
	rd   *reader
	hier hierarchies
	pods map[int]*tracked
	host map[int]Proc
	// hostThreads holds the threads of watched PIDs outside pods.
	hostThreads map[int][]int
	// pollGen counts polls; a tracked process listed by its cgroup in the
	// current poll has polled == pollGen. pidBuf and leftBuf are reused.
	pollGen         uint64
	pidBuf, leftBuf []int
	stats           ScanStats
	dirs            map[string]CgroupRef // container cgroup dirs polled for members
	watch           *watcher
	version         uint64
	// watchErrs counts cgroup directories that could not be watched
	// (say, at the inotify watch limit); read by Health.
	watchErrs atomic.Int64
}

// New returns an index; it reads nothing until Run.
func New(opts Options) *Index {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Index{opts: opts, log: opts.Logger, hostThreads: map[int][]int{}}
}

// Snapshot returns the current snapshot, or nil before the first scan.
func (ix *Index) Snapshot() *Snapshot { return ix.snap.Load() }

// WatchPIDs sets PIDs that are checked at every poll, not only at full
// scans, even outside pods: the strategy resolver names the PIDs explicit
// strategies target, so their exit or reuse shows within one poll.
func (ix *Index) WatchPIDs(pids []int) {
	c := slices.Clone(pids)
	ix.watched.Store(&c)
}

// Run scans once, publishes the first snapshot, then keeps the index fresh
// until ctx is cancelled.
func (ix *Index) Run(ctx context.Context) error {
	ix.rd = newReader()
	ix.hier = findHierarchies(ix.opts.CgroupRoot)
	ix.dirs = map[string]CgroupRef{}
	w, err := newWatcher()
	if err != nil {
		ix.log.Warn("no cgroup events; relying on polls", "err", err)
	} else {
		ix.watch = w
	}
	if err := ix.reconcile(); err != nil {
		if ix.watch != nil {
			_ = ix.watch.close()
		}
		return err
	}

	events := make(chan []rawEvent, 16)
	g, gctx := errgroup.WithContext(ctx)
	if ix.watch != nil {
		g.Go(func() error { return ix.readEvents(gctx, events) })
		g.Go(func() error {
			<-gctx.Done()
			return ix.watch.close()
		})
	}
	g.Go(func() error { return ix.loop(gctx, events) })
	// Cancellation is a normal stop; the watcher's close error then is not.
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func (ix *Index) loop(ctx context.Context, events <-chan []rawEvent) error {
	poll := time.NewTicker(ix.opts.PollInterval)
	defer poll.Stop()
	full := time.NewTicker(ix.opts.ReconcileInterval)
	defer full.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			ix.poll()
		case <-full.C:
			if err := ix.reconcile(); err != nil {
				ix.log.Error("process scan failed", "err", err)
			}
		case raw := <-events:
			if ix.handleEvents(raw) {
				if err := ix.reconcile(); err != nil {
					ix.log.Error("process scan failed", "err", err)
				}
			} else {
				ix.poll()
			}
		}
	}
}

// readEvents forwards inotify events until the watcher is closed.
func (ix *Index) readEvents(ctx context.Context, out chan<- []rawEvent) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := ix.watch.read(buf)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err != nil {
			return nil //nolint:nilerr // closed on purpose by the shutdown
		}
		select {
		case out <- decode(buf[:n]):
		case <-ctx.Done():
			return nil
		}
	}
}

// handleEvents updates the watched and polled directories. It returns true
// when events were lost and a full rescan is needed.
func (ix *Index) handleEvents(raw []rawEvent) (rescan bool) {
	for _, ev := range ix.watch.resolve(raw) {
		switch {
		case ev.overflow:
			rescan = true
		case ev.created:
			if h, ok := ix.hier.of(ev.path); ok {
				ix.walk(h, ev.path, 0)
			}
		default:
			ix.watch.forget(ev.path)
			delete(ix.dirs, ev.path)
		}
	}
	return rescan
}

// reconcile rebuilds the whole index from /proc and the cgroup tree.
func (ix *Index) reconcile() error {
	start := time.Now()
	pods, host, stats, err := scan(ix.rd, ix.opts.ProcRoot, ix.hier)
	if err != nil {
		return err
	}
	stats.Duration = time.Since(start)
	stats.At = ix.opts.Now()
	if ix.pods != nil { // not the first scan: what it finds new is young
		for pid, t := range pods {
			if old, ok := ix.pods[pid]; !ok || old.stat.StartTime != t.stat.StartTime {
				t.young = true
			}
		}
	}
	ix.pods, ix.host, ix.stats = pods, host, stats
	// Rediscover directories from scratch so dirs removed while events were
	// lost do not linger. Every directory holding a tracked process is
	// polled, a pod's own cgroup and a container's sub-cgroups included:
	// poll re-reads from /proc any tracked process whose directory it did
	// not read.
	ix.dirs = map[string]CgroupRef{}
	for _, t := range pods {
		if t.dir != "" {
			ix.dirs[t.dir] = t.ref
		}
	}
	ix.watchErrs.Store(0) // counted afresh by the walks below
	for _, h := range ix.hier {
		ix.discover(h)
	}
	ix.publish(true)
	return nil
}

// poll reads cgroup.procs of every cgroup that holds a pod process and
// applies the difference to the pod processes: new PIDs are read from
// /proc, PIDs that left are re-read to see where they went. With nothing
// changed it costs one small read per cgroup, and no allocation that
// grows with the number of processes.
func (ix *Index) poll() {
	changed := false
	ix.pollGen++
	pids := ix.pidBuf[:0]
	for dir, ref := range ix.dirs {
		b, err := ix.rd.read(dir + "/cgroup.procs")
		if err != nil {
			if gone(err) {
				delete(ix.dirs, dir)
				ix.watch.forgetIfAny(dir)
			}
			continue
		}
		pids = parsePIDList(b, pids[:0])
		for _, pid := range pids {
			t, known := ix.pods[pid]
			if known && (t.dir == dir || t.ref.ContainerID == ref.ContainerID) {
				if t.dir == dir {
					t.polled = ix.pollGen
				}
				if t.young && ix.recheck(pid, t) {
					changed = true
				}
				continue
			}
			st, ok := ix.readStat(pid)
			if !ok {
				continue
			}
			ix.pods[pid] = &tracked{ref: ref, dir: dir, stat: st, threads: threads(ix.opts.ProcRoot, pid), young: true, polled: ix.pollGen}
			delete(ix.host, pid)
			changed = true
		}
	}
	ix.pidBuf = pids
	// Pod processes their cgroup no longer lists, or whose cgroup is gone
	// or could not be read: they exited, or moved.
	left := ix.leftBuf[:0]
	for pid, t := range ix.pods {
		if t.dir != "" && t.polled != ix.pollGen {
			left = append(left, pid)
		}
	}
	for _, pid := range left {
		ix.reattribute(pid)
		changed = true
	}
	ix.leftBuf = left
	// Watched PIDs outside pods: gone, reused, or new since the last scan,
	// and their threads.
	hostChanged := ix.pollWatched()
	if changed || hostChanged {
		ix.publish(hostChanged)
	}
}

// pollWatched re-reads the PIDs strategies target that are outside pods,
// and their threads, which the index keeps only for them. It reports
// whether any changed.
func (ix *Index) pollWatched() bool {
	changed := false
	watched := map[int]bool{}
	if w := ix.watched.Load(); w != nil {
		for _, pid := range *w {
			if _, inPod := ix.pods[pid]; inPod {
				continue
			}
			watched[pid] = true
			st, ok := ix.readStat(pid)
			old, known := ix.host[pid]
			switch {
			case !ok && known:
				delete(ix.host, pid)
				changed = true
			case ok && (!known || old.StartTime != st.StartTime):
				ix.host[pid] = Proc{PID: pid, PPID: st.PPID, Command: st.Comm, StartTime: st.StartTime}
				changed = true
			}
			if !ok {
				continue
			}
			if th := threads(ix.opts.ProcRoot, pid); !slices.Equal(th, ix.hostThreads[pid]) {
				ix.hostThreads[pid] = th
				changed = true
			}
		}
	}
	for pid := range ix.hostThreads {
		if !watched[pid] || ix.host[pid].PID == 0 {
			delete(ix.hostThreads, pid)
			changed = true
		}
	}
	return changed
}

// reattribute rereads where a pod process that left its cgroup went: it
// exited, moved to another pod cgroup, or left the pods altogether.
func (ix *Index) reattribute(pid int) {
	delete(ix.pods, pid)
	cg, err := ix.rd.read(ix.rd.pidPath(ix.opts.ProcRoot, pid, "cgroup"))
	if err != nil {
		return
	}
	ref, line, inPod := ParseProcCgroup(cg)
	st, ok := ix.readStat(pid)
	if !ok {
		return
	}
	if inPod && !ref.Conmon {
		dir := ix.hier.dir(line)
		ix.pods[pid] = &tracked{ref: ref, dir: dir, stat: st, threads: threads(ix.opts.ProcRoot, pid), young: true}
		if _, polled := ix.dirs[dir]; dir != "" && !polled {
			ix.dirs[dir] = ref
		}
		return
	}
	ix.host[pid] = Proc{PID: pid, PPID: st.PPID, Command: st.Comm, StartTime: st.StartTime}
}

// recheck re-reads a young pod process's stat: it reports whether the
// process exec'd another program (a new command) or the PID now belongs to
// another process (a new start time), and updates t.
func (ix *Index) recheck(pid int, t *tracked) bool {
	st, ok := ix.readStat(pid)
	if !ok || st == t.stat {
		return false // gone (its cgroup's next poll drops it) or unchanged
	}
	if st.StartTime != t.stat.StartTime {
		t.threads = threads(ix.opts.ProcRoot, pid)
	}
	t.stat = st
	return true
}

func (ix *Index) readStat(pid int) (procStat, bool) {
	b, err := ix.rd.read(ix.rd.pidPath(ix.opts.ProcRoot, pid, "stat"))
	if err != nil {
		return procStat{}, false
	}
	return parseStat(b)
}

// publish makes a new snapshot from the current state. The version moves
// only when the pod view changed; full scans and host process changes
// always publish (force), so host process data stays current for readers.
func (ix *Index) publish(force bool) {
	pods := buildPods(ix.pods)
	prev := ix.snap.Load()
	podsChanged := prev == nil || !reflect.DeepEqual(pods, prev.Pods)
	if !podsChanged && !force {
		return
	}
	if podsChanged {
		ix.version++
	} else {
		pods = prev.Pods // the same content; keep the published slice
	}
	ix.snap.Store(newSnapshot(ix.version, ix.opts.Now(), pods, maps.Clone(ix.host), maps.Clone(ix.hostThreads), ix.stats))
	ix.Changed()
}

// Health reports the index's state for /health and /readyz.
func (ix *Index) Health(context.Context) health.Report {
	s := ix.Snapshot()
	if s == nil {
		return health.Report{State: health.Down, Detail: "first process scan not finished"}
	}
	st := s.Stats()
	detail := fmt.Sprintf("%d pods, %d pod processes of %d; full scan %s ago took %s",
		len(s.Pods), s.NumProcesses(), st.Processes, ix.opts.Now().Sub(st.At).Round(time.Second), st.Duration.Round(time.Microsecond))
	if n := ix.watchErrs.Load(); n > 0 {
		detail += fmt.Sprintf("; %d cgroup directories could not be watched (inotify limit?), so containers created there show only at the next full scan", n)
	}
	if st.PermissionErrors > 0 {
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf("%s; %d files unreadable for lack of permission", detail, st.PermissionErrors)}
	}
	return health.Report{State: health.OK, Detail: detail}
}

// scan reads every process under procRoot.
func scan(rd *reader, procRoot string, hier hierarchies) (map[int]*tracked, map[int]Proc, ScanStats, error) {
	pids, err := listPIDs(procRoot)
	if err != nil {
		return nil, nil, ScanStats{}, fmt.Errorf("list processes in %s: %w", procRoot, err)
	}
	pods := map[int]*tracked{}
	host := make(map[int]Proc, len(pids))
	var stats ScanStats
	for _, pid := range pids {
		cg, err := rd.read(rd.pidPath(procRoot, pid, "cgroup"))
		if err != nil {
			if denied(err) {
				stats.PermissionErrors++
			}
			continue
		}
		ref, line, inPod := ParseProcCgroup(cg)
		b, err := rd.read(rd.pidPath(procRoot, pid, "stat"))
		if err != nil {
			if denied(err) {
				stats.PermissionErrors++
			}
			continue
		}
		st, ok := parseStat(b)
		if !ok {
			continue
		}
		stats.Processes++
		if !inPod || ref.Conmon {
			host[pid] = Proc{PID: pid, PPID: st.PPID, Command: st.Comm, StartTime: st.StartTime}
			continue
		}
		pods[pid] = &tracked{ref: ref, dir: hier.dir(line), stat: st, threads: threads(procRoot, pid)}
		stats.PodProcesses++
	}
	return pods, host, stats, nil
}

// hierarchy is one mounted cgroup hierarchy under the cgroup root.
type hierarchy struct {
	root string // filesystem directory
	v2   bool
	name string // v1: controllers or "name=…"; v2: ""
}

type hierarchies []hierarchy

// findHierarchies finds the hierarchies the kubelet puts pods in: the v2
// tree (at the root, or at unified/ on hybrid hosts), and the v1
// name=systemd and pids trees.
func findHierarchies(root string) hierarchies {
	var hs hierarchies
	if exists(filepath.Join(root, "cgroup.controllers")) {
		return hierarchies{{root: root, v2: true}}
	}
	if u := filepath.Join(root, "unified"); exists(filepath.Join(u, "cgroup.controllers")) {
		hs = append(hs, hierarchy{root: u, v2: true})
	}
	for _, v1 := range []struct{ dir, name string }{{"systemd", "name=systemd"}, {"pids", "pids"}} {
		if d := filepath.Join(root, v1.dir); exists(filepath.Join(d, "cgroup.procs")) {
			hs = append(hs, hierarchy{root: d, name: v1.name})
		}
	}
	return hs
}

// dir maps a /proc/<pid>/cgroup line to a directory, or "" when the line's
// hierarchy is not one polled or the path is relative to a cgroup namespace.
func (hs hierarchies) dir(line CgroupLine) string {
	if strings.Contains(line.Path, "/..") {
		return ""
	}
	for _, h := range hs {
		if (h.v2 && line.Hierarchy == "0" && line.Controllers == "") || (!h.v2 && line.Controllers == h.name) {
			return filepath.Join(h.root, line.Path)
		}
	}
	return ""
}

// of returns the hierarchy that contains path.
func (hs hierarchies) of(path string) (hierarchy, bool) {
	for _, h := range hs {
		if strings.HasPrefix(path, h.root+"/") || path == h.root {
			return h, true
		}
	}
	return hierarchy{}, false
}

// kubepodsRoots are the names of the top cgroup of a kubelet's pods.
var kubepodsRoots = map[string]bool{"kubepods": true, "kubepods.slice": true, "kubelet-kubepods.slice": true}

// discover finds kubepods trees in h (up to four levels down, which covers
// nested nodes) and walks them.
func (ix *Index) discover(h hierarchy) {
	var find func(dir string, depth int)
	find = func(dir string, depth int) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if kubepodsRoots[e.Name()] {
				ix.walk(h, p, 0)
			} else if depth < 3 {
				find(p, depth+1)
			}
		}
	}
	find(h.root, 0)
}

// walk watches dir (a kubepods, QoS or pod cgroup) and records the
// container cgroups below it.
func (ix *Index) walk(h hierarchy, dir string, depth int) {
	rel := strings.TrimPrefix(dir, h.root)
	if ref, ok := ParseCgroupPath(rel); ok && ref.ContainerID != "" {
		if !ref.Conmon {
			ix.dirs[dir] = ref
		}
		return
	}
	if ix.watch != nil {
		if err := ix.watch.add(dir); err != nil {
			ix.watchErrs.Add(1)
			ix.log.Debug("cannot watch cgroup", "dir", dir, "err", err)
		}
	}
	if depth > 4 {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			ix.walk(h, filepath.Join(dir, e.Name()), depth+1)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
