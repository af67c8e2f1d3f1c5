package procs

import (
	"slices"
	"strings"
	"time"
)

// Proc is one process on the node.
type Proc struct {
	PID     int
	PPID    int
	Command string // /proc/<pid>/comm (the same text as stat's second field)
	// StartTime is in clock ticks after boot (/proc/<pid>/stat field 22).
	// With the PID it identifies a process: a reused PID has another.
	StartTime uint64
}

// Process is a process in a pod.
type Process struct {
	Proc
	ContainerID string // "" when it runs in the pod's own cgroup
	Threads     []int  // TIDs, the main thread included, ascending
}

// Container is one container cgroup of a pod.
type Container struct {
	ID      string
	Runtime string // containerd, cri-o, docker, or "" when the layout does not say
	// Sandbox is true for the pod's sandbox (pause) container. Until pod
	// metadata says otherwise, a container whose only processes are
	// "pause" is taken to be the sandbox.
	Sandbox bool
	PIDs    []int // ascending
}

// Pod is a pod as its cgroups show it.
type Pod struct {
	UID        string
	QoS        QoS
	Containers []Container // by ID
	Processes  []Process   // by PID, across containers
}

// Snapshot is an immutable view of the node's processes. Readers must not
// modify it or anything reachable from it.
type Snapshot struct {
	// Version increases whenever the pod view (Pods) changes, and only then.
	Version uint64
	// Taken is when the snapshot was published.
	Taken time.Time
	// Pods are sorted by UID.
	Pods []Pod

	podByUID map[string]int
	podByPID map[int]int
	host     map[int]Proc // processes outside any pod, as of the last full scan
	// hostThreads: threads of the processes outside pods that the index
	// watches (those strategies target by PID).
	hostThreads map[int][]int
	stats       ScanStats
}

// ScanStats describe the last full scan.
type ScanStats struct {
	At               time.Time
	Processes        int // every process seen
	PodProcesses     int
	PermissionErrors int // files that could not be read for lack of permission
	Duration         time.Duration
}

// Pod returns the pod with the given canonical UID.
func (s *Snapshot) Pod(uid string) (*Pod, bool) {
	i, ok := s.podByUID[uid]
	if !ok {
		return nil, false
	}
	return &s.Pods[i], true
}

// PodOfPID returns the pod that the process pid runs in.
func (s *Snapshot) PodOfPID(pid int) (*Pod, bool) {
	i, ok := s.podByPID[pid]
	if !ok {
		return nil, false
	}
	return &s.Pods[i], true
}

// Process returns any live process on the node by PID: pod processes are
// current to the last poll, others to the last full scan.
func (s *Snapshot) Process(pid int) (Proc, bool) {
	if i, ok := s.podByPID[pid]; ok {
		p := &s.Pods[i]
		j, found := slices.BinarySearchFunc(p.Processes, pid, func(pr Process, pid int) int { return pr.PID - pid })
		if found {
			return p.Processes[j].Proc, true
		}
	}
	p, ok := s.host[pid]
	return p, ok
}

// Threads returns the thread IDs (the main one included) of a pod
// process, or of a process outside pods that the index watches (see
// Index.WatchPIDs); nil for any other.
func (s *Snapshot) Threads(pid int) []int {
	if i, ok := s.podByPID[pid]; ok {
		p := &s.Pods[i]
		if j, found := slices.BinarySearchFunc(p.Processes, pid, func(pr Process, pid int) int { return pr.PID - pid }); found {
			return p.Processes[j].Threads
		}
	}
	return s.hostThreads[pid]
}

// Stats returns the statistics of the last full scan.
func (s *Snapshot) Stats() ScanStats { return s.stats }

// NumProcesses returns how many processes are in pods.
func (s *Snapshot) NumProcesses() int { return len(s.podByPID) }

// tracked is the index's private record of a pod process.
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
		p.Processes = append(p.Processes, Process{
			Proc:        Proc{PID: pid, PPID: t.stat.PPID, Command: t.stat.Comm, StartTime: t.stat.StartTime},
			ContainerID: t.ref.ContainerID,
			Threads:     t.threads,
		})
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

// looksLikeSandbox reports whether every process of container id is "pause".
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

// NewSnapshot builds a snapshot from pods (sorted by UID, processes by PID)
// and the processes outside pods (ContainerID empty; Threads where known).
// The index makes its own; this is for other sources of process data and
// for tests.
func NewSnapshot(version uint64, taken time.Time, pods []Pod, host []Process) *Snapshot {
	hm := make(map[int]Proc, len(host))
	ht := map[int][]int{}
	for _, p := range host {
		hm[p.PID] = p.Proc
		if p.Threads != nil {
			ht[p.PID] = p.Threads
		}
	}
	n := len(host)
	for _, p := range pods {
		n += len(p.Processes)
	}
	return newSnapshot(version, taken, pods, hm, ht, ScanStats{At: taken, Processes: n, PodProcesses: n - len(host)})
}

func newSnapshot(version uint64, taken time.Time, pods []Pod, host map[int]Proc, hostThreads map[int][]int, stats ScanStats) *Snapshot {
	s := &Snapshot{
		Version: version, Taken: taken, Pods: pods, host: host, hostThreads: hostThreads, stats: stats,
		podByUID: make(map[string]int, len(pods)),
		podByPID: map[int]int{},
	}
	for i := range pods {
		s.podByUID[pods[i].UID] = i
		for _, pr := range pods[i].Processes {
			s.podByPID[pr.PID] = i
		}
	}
	return s
}
