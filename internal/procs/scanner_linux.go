package procs

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// scanner is the state of Index.Run: what the last full scan and the polls
// since found. It belongs to Run's loop goroutine and is never shared;
// readers see only the snapshots it publishes through the Index.
type scanner struct {
	ix   *Index
	opts Options
	log  *slog.Logger
	rd   *reader
	hier hierarchies

	pods map[int]*tracked
	host map[int]Proc
	// hostThreads holds the threads of watched PIDs outside pods.
	hostThreads map[int][]int
	stats       ScanStats
	dirs        map[string]CgroupRef // container cgroup dirs polled for members
	watch       *watcher             // nil without inotify

	// pollGen counts polls; a tracked process listed by its cgroup in the
	// current poll has polled == pollGen. pidBuf and leftBuf are reused so
	// that a poll with nothing changed allocates nothing per process.
	pollGen         uint64
	pidBuf, leftBuf []int
}

func newScanner(ix *Index) *scanner {
	return &scanner{
		ix: ix, opts: ix.opts, log: ix.log,
		rd:          newReader(),
		hier:        findHierarchies(ix.opts.CgroupRoot),
		dirs:        map[string]CgroupRef{},
		hostThreads: map[int][]int{},
	}
}

// tracked is the scanner's record of a pod process.
type tracked struct {
	ref     CgroupRef
	dir     string // filesystem directory of its exact cgroup; "" if unknown
	stat    procStat
	threads []int
	// young: first seen since the previous full scan, so its command may
	// still change (a shell that execs the real program) before the
	// next one; polls re-read it.
	young  bool
	polled uint64 // the last poll whose read of dir listed it
}

// reconcile rebuilds the whole index from /proc and the cgroup tree.
func (sc *scanner) reconcile() error {
	// Wall-clock time, not opts.Now: Duration measures this scan, At dates
	// it for readers.
	start := time.Now()
	pods, host, stats, err := scan(sc.rd, sc.opts.ProcRoot, sc.hier)
	if err != nil {
		return err
	}
	stats.Duration = time.Since(start)
	stats.At = sc.opts.Now()
	if sc.pods != nil { // not the first scan: what it finds new is young
		for pid, t := range pods {
			if old, ok := sc.pods[pid]; !ok || old.stat.StartTime != t.stat.StartTime {
				t.young = true
			}
		}
	}
	sc.pods, sc.host, sc.stats = pods, host, stats
	// Rediscover directories from scratch so dirs removed while events were
	// lost do not linger. Every directory holding a tracked process is
	// polled, a pod's own cgroup and a container's sub-cgroups included:
	// poll re-reads from /proc any tracked process whose directory it did
	// not read.
	sc.dirs = map[string]CgroupRef{}
	for _, t := range pods {
		if t.dir != "" {
			sc.dirs[t.dir] = t.ref
		}
	}
	sc.ix.watchErrs.Store(0) // counted afresh by the walks below
	for _, h := range sc.hier {
		sc.discover(h)
	}
	sc.publish(true)
	return nil
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
			host[pid] = st.proc(pid)
			continue
		}
		pods[pid] = &tracked{ref: ref, dir: hier.dir(line), stat: st, threads: threads(procRoot, pid)}
		stats.PodProcesses++
	}
	return pods, host, stats, nil
}

// readStat reads the stat of pid; ok is false when it is gone, or exiting
// (see exited): a poll that lists a process in its last moments would
// otherwise keep it after its exit event has come and gone.
func (sc *scanner) readStat(pid int) (procStat, bool) {
	b, err := sc.rd.read(sc.rd.pidPath(sc.opts.ProcRoot, pid, "stat"))
	if err != nil || exited(b) {
		return procStat{}, false
	}
	return parseStat(b)
}

// publish makes a new snapshot from the current state. The version moves
// only when the pod view changed, so readers' ETags survive no-op scans;
// full scans and host process changes always publish (force), so host
// process data stays current for readers.
func (sc *scanner) publish(force bool) {
	pods := buildPods(sc.pods)
	version := uint64(1)
	if prev := sc.ix.Snapshot(); prev != nil {
		switch {
		case !slices.EqualFunc(pods, prev.Pods, func(a, b Pod) bool { return a.Equal(&b) }):
			version = prev.Version + 1
		case !force:
			return
		default:
			version = prev.Version
			pods = prev.Pods // the same content; keep the published slice
		}
	}
	sc.ix.store(newSnapshot(version, sc.opts.Now(), pods, maps.Clone(sc.host), maps.Clone(sc.hostThreads), sc.stats))
}

// buildPods groups tracked processes into sorted pods.
func buildPods(procs map[int]*tracked) []Pod {
	byUID := map[string]*Pod{}
	containers := map[string]map[string]*Container{}
	for pid, t := range procs {
		p := byUID[t.ref.PodUID]
		if p == nil {
			p = &Pod{UID: t.ref.PodUID, QoS: t.ref.QoS}
			byUID[t.ref.PodUID] = p
			containers[t.ref.PodUID] = map[string]*Container{}
		}
		p.Processes = append(p.Processes, Process{Proc: t.stat.proc(pid), ContainerID: t.ref.ContainerID, Threads: t.threads})
		if t.ref.ContainerID == "" {
			continue
		}
		c := containers[t.ref.PodUID][t.ref.ContainerID]
		if c == nil {
			c = &Container{ID: t.ref.ContainerID, Runtime: t.ref.Runtime}
			containers[t.ref.PodUID][t.ref.ContainerID] = c
		}
		c.PIDs = append(c.PIDs, pid)
	}
	pods := make([]Pod, 0, len(byUID))
	for uid, p := range byUID {
		slices.SortFunc(p.Processes, func(a, b Process) int { return a.PID - b.PID })
		for _, c := range containers[uid] {
			slices.Sort(c.PIDs)
			c.Sandbox = looksLikeSandbox(p.Processes, c.ID)
			p.Containers = append(p.Containers, *c)
		}
		slices.SortFunc(p.Containers, func(a, b Container) int { return strings.Compare(a.ID, b.ID) })
		pods = append(pods, *p)
	}
	slices.SortFunc(pods, func(a, b Pod) int { return strings.Compare(a.UID, b.UID) })
	return pods
}

// looksLikeSandbox reports whether every process of container id is
// "pause": before pod metadata names the containers, that is the best
// guess at which one is the sandbox.
func looksLikeSandbox(procs []Process, id string) bool {
	n := 0
	for _, p := range procs {
		if p.ContainerID != id {
			continue
		}
		if p.Command != "pause" {
			return false
		}
		n++
	}
	return n > 0
}
