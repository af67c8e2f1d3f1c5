// Package podview joins the process index (which processes run in which pod
// cgroups) with pod metadata (names, namespaces, labels, container names)
// into one versioned, immutable view of the node's pods. The pods endpoint
// serves it and the strategy resolver resolves against it.
package podview

import (
	"context"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/procs"
)

// ProcessSource is the process index.
type ProcessSource interface {
	Snapshot() *procs.Snapshot
	Subscribe() (<-chan struct{}, func())
}

// MetaSource supplies pod metadata.
type MetaSource interface {
	Lookup(uid string) (kube.PodMeta, bool)
	Version() uint64
	Subscribe() (<-chan struct{}, func())
}

// Container is one container of a pod.
type Container struct {
	ID      string
	Name    string // from the pod's status; "" when unknown
	Runtime string
	// Sandbox is the pod's pause container. With metadata it is a
	// container of the pod that none of its statuses names; without, one
	// whose only processes are "pause".
	Sandbox bool
}

// Pod is a pod of this node with its processes.
type Pod struct {
	UID       string
	Name      string // "" when the metadata source does not know the pod
	Namespace string
	Labels    map[string]string
	Known     bool // metadata was found
	QoS       procs.QoS
	// Containers are sorted by ID; Processes by PID.
	Containers []Container
	Processes  []procs.Process
}

// Process returns the pod's process with the given PID.
func (p *Pod) Process(pid int) (*procs.Process, bool) {
	i, ok := slices.BinarySearchFunc(p.Processes, pid, func(pr procs.Process, pid int) int { return pr.PID - pid })
	if !ok {
		return nil, false
	}
	return &p.Processes[i], true
}

// Container returns the container with the given ID.
func (p *Pod) Container(id string) (*Container, bool) {
	for i := range p.Containers {
		if p.Containers[i].ID == id {
			return &p.Containers[i], true
		}
	}
	return nil, false
}

// View is an immutable joined view. Readers must not modify it.
type View struct {
	// Version moves whenever Pods change, and only then.
	Version uint64
	// Updated is when the view last changed or the processes were rescanned.
	Updated time.Time
	Pods    []Pod // sorted by UID
	// Procs is the process snapshot the view was built from: every
	// process of the node, in pods or not.
	Procs *procs.Snapshot

	byUID map[string]int
	byPID map[int]int
}

// Pod returns the pod with the given UID.
func (v *View) Pod(uid string) (*Pod, bool) {
	i, ok := v.byUID[uid]
	if !ok {
		return nil, false
	}
	return &v.Pods[i], true
}

// PodOfPID returns the pod running pid.
func (v *View) PodOfPID(pid int) (*Pod, bool) {
	i, ok := v.byPID[pid]
	if !ok {
		return nil, false
	}
	return &v.Pods[i], true
}

// Build joins a process snapshot with metadata.
func Build(version uint64, s *procs.Snapshot, meta MetaSource) *View {
	v := &View{Version: version, Updated: s.Taken, Procs: s, Pods: make([]Pod, len(s.Pods)),
		byUID: make(map[string]int, len(s.Pods)), byPID: make(map[int]int, s.NumProcesses())}
	for i := range s.Pods {
		sp := &s.Pods[i]
		p := Pod{UID: sp.UID, QoS: sp.QoS, Processes: sp.Processes, Containers: make([]Container, len(sp.Containers))}
		m, known := meta.Lookup(sp.UID)
		if known {
			p.Name, p.Namespace, p.Labels, p.Known = m.Name, m.Namespace, m.Labels, true
		}
		for j, c := range sp.Containers {
			pc := Container{ID: c.ID, Runtime: c.Runtime, Sandbox: c.Sandbox}
			if known && len(m.Containers) > 0 {
				cm, named := m.Containers[c.ID]
				pc.Name, pc.Sandbox = cm.Name, !named
			}
			p.Containers[j] = pc
		}
		v.Pods[i] = p
		v.byUID[p.UID] = i
		for _, pr := range p.Processes {
			v.byPID[pr.PID] = i
		}
	}
	return v
}

// Joiner keeps a View current as processes and metadata change. View and
// Subscribe are safe for concurrent use; Run must be called once.
type Joiner struct {
	procs ProcessSource
	meta  MetaSource
	// Debounce batches bursts of changes into one rebuild.
	debounce time.Duration

	view atomic.Pointer[View]
	notify.Notifier
}

// NewJoiner returns a Joiner; nothing is built before Run.
func NewJoiner(p ProcessSource, m MetaSource, debounce time.Duration) *Joiner {
	return &Joiner{procs: p, meta: m, debounce: debounce}
}

// View returns the current view, or nil before the first process scan.
func (j *Joiner) View() *View { return j.view.Load() }

// Run rebuilds the view after every change of either source until ctx is
// cancelled.
func (j *Joiner) Run(ctx context.Context) error {
	procCh, stopProcs := j.procs.Subscribe()
	defer stopProcs()
	metaCh, stopMeta := j.meta.Subscribe()
	defer stopMeta()
	var (
		version  uint64
		lastSnap *procs.Snapshot
		lastMeta uint64
	)
	rebuild := func() {
		s := j.procs.Snapshot()
		mv := j.meta.Version()
		if s == nil || (s == lastSnap && mv == lastMeta) {
			return
		}
		lastSnap, lastMeta = s, mv
		next := Build(version, s, j.meta)
		switch cur := j.view.Load(); {
		case cur == nil || !reflect.DeepEqual(cur.Pods, next.Pods):
			version++
			if now := time.Now(); now.After(next.Updated) {
				next.Updated = now // a metadata change is news even without a rescan
			}
		case cur.Procs == s:
			return // the metadata changed, but nothing this view shows
		}
		next.Version = version
		j.view.Store(next)
		j.Changed()
	}
	rebuild()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-procCh:
		case <-metaCh:
		case <-timer.C:
			pending = false
			rebuild()
			continue
		}
		if !pending {
			pending = true
			timer.Reset(j.debounce)
		}
	}
}
