// Package podview joins the process index (which processes run in which pod
// cgroups) with pod metadata (names, namespaces, labels, container names)
// into one versioned, immutable view of the node's pods. The pods endpoint
// serves it and the strategy resolver resolves against it.
package podview

import (
	"cmp"
	"context"
	"maps"
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

// MetaLookup finds a pod's metadata by the UID its cgroups show.
type MetaLookup interface {
	Lookup(uid string) (kube.PodMeta, bool)
}

// MetaSource supplies pod metadata and says when it changed.
type MetaSource interface {
	MetaLookup
	Version() uint64
	Subscribe() (<-chan struct{}, func())
	// Pending says why the source does not know the node's pods yet, or
	// is "" once it does (and stays so); a change of it is a change
	// Subscribe tells of.
	Pending() string
}

// Container is a container of the process snapshot with what the pod's
// metadata adds. Sandbox (of procs.Container) is the metadata's verdict
// once the pod's container statuses are known: the container none of them
// names. Before, it is the index's guess: the one whose only processes are
// "pause".
type Container struct {
	procs.Container
	Name string // from the pod's status; "" when unknown
}

// Equal reports whether d shows what c shows: every field is compared.
func (c Container) Equal(d Container) bool {
	return c.Name == d.Name && c.Container.Equal(d.Container)
}

// Pod is a pod of the process snapshot with what its metadata adds.
type Pod struct {
	procs.Pod
	Name      string // "" when the metadata source does not know the pod
	Namespace string
	Labels    map[string]string
	Known     bool // metadata was found
	// Containers shadows procs.Pod.Containers: the same containers in the
	// same order (by ID), with their names and the sandbox as metadata
	// decides it. Readers use these; the embedded ones are the index's.
	Containers []Container
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

// Equal reports whether q shows what p shows. Every field is compared but
// the embedded procs.Pod.Containers, which Containers supersedes; nil and
// empty labels are alike.
func (p *Pod) Equal(q *Pod) bool {
	return p.UID == q.UID && p.QoS == q.QoS &&
		p.Name == q.Name && p.Namespace == q.Namespace && p.Known == q.Known &&
		maps.Equal(p.Labels, q.Labels) &&
		slices.EqualFunc(p.Containers, q.Containers, Container.Equal) &&
		slices.EqualFunc(p.Processes, q.Processes, procs.Process.Equal)
}

// View is an immutable joined view. Readers must not modify it.
type View struct {
	// Version moves whenever Pods change, and only then.
	Version uint64
	// Updated is when the view last changed or the processes were rescanned.
	Updated time.Time
	// Pods are sorted by UID: Pods[i] is Procs.Pods[i] with its metadata.
	Pods []Pod
	// Procs is the process snapshot the view was built from: every
	// process of the node, in pods or not.
	Procs *procs.Snapshot
	// MetaPending, when not "", says that the metadata source did not
	// know the node's pods yet when the view was built, and why: pods
	// show without names and labels that they have, so the view is
	// incomplete. Build leaves it "".
	MetaPending string
}

// Pod returns the pod with the given UID.
func (v *View) Pod(uid string) (*Pod, bool) {
	i, ok := v.Procs.PodIndex(uid)
	if !ok {
		return nil, false
	}
	return &v.Pods[i], true
}

// PodOfPID returns the pod running pid.
func (v *View) PodOfPID(pid int) (*Pod, bool) {
	i, ok := v.Procs.PodIndexOfPID(pid)
	if !ok {
		return nil, false
	}
	return &v.Pods[i], true
}

// Build joins a process snapshot with metadata, pod for pod, so that the
// snapshot's indexes serve the view's lookups too.
func Build(version uint64, s *procs.Snapshot, meta MetaLookup) *View {
	v := &View{Version: version, Updated: s.Taken, Procs: s, Pods: make([]Pod, len(s.Pods))}
	for i, sp := range s.Pods {
		p := Pod{Pod: sp, Containers: make([]Container, len(sp.Containers))}
		m, known := meta.Lookup(sp.UID)
		if known {
			p.Name, p.Namespace, p.Labels, p.Known = m.Name, m.Namespace, m.Labels, true
		}
		for j, c := range sp.Containers {
			pc := Container{Container: c}
			// Statuses name every container but the sandbox; with none
			// reported yet, they say nothing and the index's guess stands.
			if known && len(m.Containers) > 0 {
				cm, named := m.Containers[c.ID]
				pc.Name, pc.Sandbox = cm.Name, !named
			}
			p.Containers[j] = pc
		}
		v.Pods[i] = p
	}
	return v
}

// Options configure a Joiner.
type Options struct {
	Procs ProcessSource
	Meta  MetaSource
	// Debounce batches bursts of changes into one rebuild.
	Debounce time.Duration
	// MetaDebounce, when set, replaces Debounce for a burst that starts
	// with a metadata change: those come one object at a time (a relabel,
	// a new pod), not in storms as processes do, and a watcher waits on
	// them.
	MetaDebounce time.Duration
	Now          func() time.Time
}

// Joiner keeps a View current as processes and metadata change. View and
// Subscribe are safe for concurrent use; Run must be called once.
type Joiner struct {
	opts Options
	view atomic.Pointer[View]
	notify.Notifier

	// Owned by Run: what the current view was built from.
	builtFrom *procs.Snapshot
	builtMeta uint64
}

// NewJoiner returns a Joiner; nothing is built before Run.
func NewJoiner(opts Options) *Joiner {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Joiner{opts: opts}
}

// View returns the current view, or nil before the first process scan.
func (j *Joiner) View() *View { return j.view.Load() }

// Run rebuilds the view after every change of either source until ctx is
// cancelled.
func (j *Joiner) Run(ctx context.Context) error {
	procCh, stopProcs := j.opts.Procs.Subscribe()
	defer stopProcs()
	metaCh, stopMeta := j.opts.Meta.Subscribe()
	defer stopMeta()
	batch := notify.NewBatch()
	defer batch.Stop()
	j.rebuild()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-procCh:
			batch.Arm(j.opts.Debounce)
		case <-metaCh:
			batch.Arm(cmp.Or(j.opts.MetaDebounce, j.opts.Debounce))
		case <-batch.C():
			batch.Fired()
			j.rebuild()
		}
	}
}

// rebuild joins the current snapshot and metadata, and publishes the
// result unless it would show nothing new.
func (j *Joiner) rebuild() {
	s := j.opts.Procs.Snapshot()
	mv := j.opts.Meta.Version()
	if s == nil || (s == j.builtFrom && mv == j.builtMeta) {
		return
	}
	j.builtFrom, j.builtMeta = s, mv
	cur := j.view.Load()
	pending := j.opts.Meta.Pending() // before the lookups: what they miss
	next := Build(1, s, j.opts.Meta)
	next.MetaPending = pending
	switch {
	case cur != nil && cur.MetaPending == pending && slices.EqualFunc(cur.Pods, next.Pods, func(a, b Pod) bool { return a.Equal(&b) }):
		if cur.Procs == s {
			return // the metadata changed, but nothing this view shows
		}
		next.Version = cur.Version // a rescan that changed no pod
	default: // the first view, the pods changed, or the metadata became complete
		if cur != nil {
			next.Version = cur.Version + 1
		}
		if now := j.opts.Now(); now.After(next.Updated) {
			next.Updated = now // a metadata change is news even without a rescan
		}
	}
	j.view.Store(next)
	j.Changed()
}
