package procs

import (
	"slices"
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

// Process returns the pod's process with the given PID.
func (p *Pod) Process(pid int) (*Process, bool) {
	i, ok := slices.BinarySearchFunc(p.Processes, pid, func(pr Process, pid int) int { return pr.PID - pid })
	if !ok {
		return nil, false
	}
	return &p.Processes[i], true
}

// Equal reports whether q shows what p shows: every field is compared.
// A nil and an empty thread list are equal; both mean none is known.
func (p Process) Equal(q Process) bool {
	return p.Proc == q.Proc && p.ContainerID == q.ContainerID && slices.Equal(p.Threads, q.Threads)
}

// Equal reports whether d shows what c shows: every field is compared.
func (c Container) Equal(d Container) bool {
	return c.ID == d.ID && c.Runtime == d.Runtime && c.Sandbox == d.Sandbox && slices.Equal(c.PIDs, d.PIDs)
}

// Equal reports whether q shows what p shows: every field is compared,
// containers and processes element by element.
func (p *Pod) Equal(q *Pod) bool {
	return p.UID == q.UID && p.QoS == q.QoS &&
		slices.EqualFunc(p.Containers, q.Containers, Container.Equal) &&
		slices.EqualFunc(p.Processes, q.Processes, Process.Equal)
}

// Snapshot is an immutable view of the node's processes. Readers must not
// modify it or anything reachable from it.
type Snapshot struct {
	// Version increases whenever the pod view (Pods) changes, and only then.
	Version uint64
	// Seq counts the index's publications: a snapshot published later has
	// a higher one, whether or not its pods changed. Zero in snapshots the
	// index did not publish.
	Seq uint64
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

// PodIndex returns the position in Pods of the pod with the given
// canonical UID. A view built pod for pod on the snapshot (as podview's
// is) finds its own pods by it, without an index of its own.
func (s *Snapshot) PodIndex(uid string) (int, bool) {
	i, ok := s.podByUID[uid]
	return i, ok
}

// PodIndexOfPID returns the position in Pods of the pod that the process
// pid runs in.
func (s *Snapshot) PodIndexOfPID(pid int) (int, bool) {
	i, ok := s.podByPID[pid]
	return i, ok
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
	if pod, ok := s.PodOfPID(pid); ok {
		if pr, found := pod.Process(pid); found {
			return pr.Proc, true
		}
	}
	p, ok := s.host[pid]
	return p, ok
}

// Threads returns the thread IDs (the main one included) of a pod
// process, or of a process outside pods that the index watches (see
// Index.WatchPIDs); nil for any other.
func (s *Snapshot) Threads(pid int) []int {
	if pod, ok := s.PodOfPID(pid); ok {
		if pr, found := pod.Process(pid); found {
			return pr.Threads
		}
	}
	return s.hostThreads[pid]
}

// Stats returns the statistics of the last full scan.
func (s *Snapshot) Stats() ScanStats { return s.stats }

// NumProcesses returns how many processes are in pods.
func (s *Snapshot) NumProcesses() int { return len(s.podByPID) }

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
