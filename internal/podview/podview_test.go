package podview

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/procs"
	"github.com/bss-api/bss-api/internal/testsupport/equaltest"
)

const (
	uidA = "65979e01-4cb1-4d08-9dba-45530253ff00"
	uidB = "0c7c7a5e-1d2f-4b3a-9e8d-7f6a5b4c3d2e"
	c0   = "0e1f5c3d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	c1   = "5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67"
	c2   = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

var scanTime = time.Unix(1_750_000_000, 0)

func snapshot(version uint64, app string) *procs.Snapshot {
	return procs.NewSnapshot(version, scanTime, []procs.Pod{
		{UID: uidB, QoS: procs.Burstable, Containers: []procs.Container{{ID: c2, Sandbox: true, PIDs: []int{30}}},
			Processes: []procs.Process{{Proc: procs.Proc{PID: 30, Command: "pause"}, ContainerID: c2}}},
		{UID: uidA, QoS: procs.Burstable,
			Containers: []procs.Container{{ID: c0, Sandbox: true, PIDs: []int{10}}, {ID: c1, PIDs: []int{20}}},
			Processes: []procs.Process{
				{Proc: procs.Proc{PID: 10, Command: "pause"}, ContainerID: c0},
				{Proc: procs.Proc{PID: 20, Command: app}, ContainerID: c1},
			}},
	}, nil)
}

// meta is a settable MetaSource.
type meta struct {
	version atomic.Uint64
	labels  atomic.Value // string
	pending atomic.Value // string
	ch      chan struct{}
}

func newMeta() *meta {
	m := &meta{ch: make(chan struct{}, 1)}
	m.labels.Store("v1")
	m.pending.Store("")
	return m
}

func (m *meta) Lookup(uid string) (kube.PodMeta, bool) {
	switch uid {
	case uidA:
		return kube.PodMeta{UID: uid, Name: "a", Namespace: "ns", Labels: map[string]string{"v": m.labels.Load().(string)},
			Containers: map[string]kube.ContainerMeta{c1: {Name: "app", Kind: kube.Regular}}}, true
	case uidB:
		// Known, but its statuses are not reported yet.
		return kube.PodMeta{UID: uid, Name: "b", Namespace: "ns", Containers: map[string]kube.ContainerMeta{}}, true
	}
	return kube.PodMeta{}, false
}
func (m *meta) Version() uint64                      { return m.version.Load() }
func (m *meta) Pending() string                      { return m.pending.Load().(string) }
func (m *meta) Subscribe() (<-chan struct{}, func()) { return m.ch, func() {} }
func (m *meta) set(labels string) {
	m.labels.Store(labels)
	m.version.Add(1)
	m.ch <- struct{}{}
}

func TestBuildJoinsMetadata(t *testing.T) {
	v := Build(1, snapshot(1, "upf"), newMeta())
	a, ok := v.Pod(uidA)
	if !ok || a.Name != "a" || a.Namespace != "ns" || a.Labels["v"] != "v1" || !a.Known {
		t.Fatalf("pod A: name %q, namespace %q, labels %v, known %v", a.Name, a.Namespace, a.Labels, a.Known)
	}
	for _, tt := range []struct {
		pod, id     string
		wantName    string
		wantSandbox bool
		why         string
	}{
		{uidA, c1, "app", false, "named by a status"},
		{uidA, c0, "", true, "the container no status names is the sandbox"},
		{uidB, c2, "", true, "without statuses the pause-only container stays the sandbox by heuristic"},
	} {
		p, _ := v.Pod(tt.pod)
		c, ok := p.Container(tt.id)
		if !ok || c.Name != tt.wantName || c.Sandbox != tt.wantSandbox {
			t.Errorf("%s: container %s: found %v, name %q, sandbox %v; want name %q, sandbox %v",
				tt.why, tt.id, ok, c.Name, c.Sandbox, tt.wantName, tt.wantSandbox)
		}
	}
	if p, ok := v.PodOfPID(20); !ok || p.UID != uidA {
		t.Errorf("PodOfPID(20) = %v, %v", p, ok)
	}
	if pr, ok := a.Process(20); !ok || pr.Command != "upf" {
		t.Errorf("a.Process(20) = %v, %v", pr, ok)
	}
}

// Pod.Equal decides whether the view publishes a new version, so it must
// notice a change in anything the view shows.
func TestPodEqual(t *testing.T) {
	base := func() Pod {
		return Pod{
			Pod: procs.Pod{
				UID: uidA, QoS: procs.Burstable,
				Containers: []procs.Container{{ID: c1, PIDs: []int{20}}},
				Processes:  []procs.Process{{Proc: procs.Proc{PID: 20, Command: "upf"}, ContainerID: c1}},
			},
			Name: "a", Namespace: "ns", Labels: map[string]string{"v": "1"}, Known: true,
			Containers: []Container{{Container: procs.Container{ID: c1, Runtime: procs.Containerd, PIDs: []int{20}}, Name: "app"}},
		}
	}
	type change = equaltest.Change[Pod]
	equaltest.Run(t, base, func(a, b Pod) bool { return a.Equal(&b) }, equaltest.Cases[Pod]{
		Notice: []change{
			{Field: "Pod.UID", Apply: func(p *Pod) { p.UID = uidB }},
			{Field: "Pod.QoS", Apply: func(p *Pod) { p.QoS = procs.Guaranteed }},
			{Field: "Pod.Processes", Apply: func(p *Pod) { p.Processes = nil }},
			{Field: "Pod.Processes.Proc.PID", Apply: func(p *Pod) { p.Processes[0].PID = 21 }},
			{Field: "Pod.Processes.Proc.PPID", Apply: func(p *Pod) { p.Processes[0].PPID = 2 }},
			{Field: "Pod.Processes.Proc.Command", Apply: func(p *Pod) { p.Processes[0].Command = "smf" }},
			{Field: "Pod.Processes.Proc.StartTime", Apply: func(p *Pod) { p.Processes[0].StartTime = 9 }},
			{Field: "Pod.Processes.ContainerID", Apply: func(p *Pod) { p.Processes[0].ContainerID = c0 }},
			{Field: "Pod.Processes.Threads", Apply: func(p *Pod) { p.Processes[0].Threads = []int{20, 21} }},
			{Field: "Name", Apply: func(p *Pod) { p.Name = "b" }},
			{Field: "Namespace", Apply: func(p *Pod) { p.Namespace = "other" }},
			{Field: "Labels", Apply: func(p *Pod) { p.Labels["v"] = "2" }},
			{Field: "Known", Apply: func(p *Pod) { p.Known = false }},
			{Field: "Containers", Apply: func(p *Pod) { p.Containers = nil }},
			{Field: "Containers.Name", Apply: func(p *Pod) { p.Containers[0].Name = "sidecar" }},
			{Field: "Containers.Container.ID", Apply: func(p *Pod) { p.Containers[0].ID = c2 }},
			{Field: "Containers.Container.Runtime", Apply: func(p *Pod) { p.Containers[0].Runtime = procs.CRIO }},
			{Field: "Containers.Container.Sandbox", Apply: func(p *Pod) { p.Containers[0].Sandbox = true }},
			{Field: "Containers.Container.PIDs", Apply: func(p *Pod) { p.Containers[0].PIDs = nil }},
		},
		Ignore: []change{
			// The index's own containers, which Containers supersedes.
			{Field: "Pod.Containers", Apply: func(p *Pod) { p.Pod.Containers[0].Sandbox = true }},
		},
	})
}

type procSource struct {
	snap atomic.Pointer[procs.Snapshot]
	ch   chan struct{}
}

func (p *procSource) Snapshot() *procs.Snapshot            { return p.snap.Load() }
func (p *procSource) Subscribe() (<-chan struct{}, func()) { return p.ch, func() {} }

// The version moves when what the view shows changes, and only then. The
// test runs in a synctest bubble: the debounce timer runs on the bubble's
// clock, and synctest.Wait says when the joiner has nothing left to do, so
// "nothing was published" is a fact rather than a guess after a sleep.
func TestJoinerVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ps := &procSource{ch: make(chan struct{}, 1)}
		ps.snap.Store(snapshot(1, "upf"))
		m := newMeta()
		now := scanTime.Add(time.Hour)
		j := NewJoiner(Options{Procs: ps, Meta: m, Debounce: time.Millisecond, Now: func() time.Time { return now }})
		sub, unsub := j.Subscribe()
		defer unsub()
		done := make(chan error, 1)
		go func() { done <- j.Run(ctx) }()
		<-sub
		if v := j.View(); v == nil || v.Version != 1 {
			t.Fatalf("first view = %+v", v)
		}

		m.set("v2") // a relabel: a new version, dated by the joiner's clock
		<-sub
		if v := j.View(); v.Version != 2 || !v.Updated.Equal(now) {
			t.Errorf("after relabel: version %d, updated %v; want 2, %v", v.Version, v.Updated, now)
		}

		// A rescan that changes nothing keeps the version.
		s := snapshot(1, "upf")
		ps.snap.Store(s)
		ps.ch <- struct{}{}
		<-sub
		if v := j.View(); v.Version != 2 || v.Procs != s {
			t.Errorf("after a no-op rescan version = %d (want 2), procs updated %v", v.Version, v.Procs == s)
		}

		// A metadata change that changes nothing in the view publishes nothing.
		before := j.View()
		m.set("v2")
		time.Sleep(time.Second) // on the bubble's clock: the debounce fires
		synctest.Wait()
		select {
		case <-sub:
			t.Errorf("a metadata change with the view unchanged published a view (version %d)", j.View().Version)
		default:
		}
		if j.View() != before {
			t.Error("the view was replaced")
		}

		ps.snap.Store(snapshot(2, "smf"))
		ps.ch <- struct{}{}
		<-sub
		if v := j.View(); v.Version != 3 {
			t.Errorf("after a process change version = %d, want 3", v.Version)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// A view built while the metadata source does not know the pods says so;
// the source coming to know them is a new view even when it shows the
// same pods (the resolver waits for it).
func TestJoinerMarksIncompleteViews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ps := &procSource{ch: make(chan struct{}, 1)}
		ps.snap.Store(snapshot(1, "upf"))
		m := newMeta()
		m.pending.Store("listing the pods of node n1")
		j := NewJoiner(Options{Procs: ps, Meta: m, Debounce: time.Millisecond})
		sub, unsub := j.Subscribe()
		defer unsub()
		done := make(chan error, 1)
		go func() { done <- j.Run(ctx) }()
		<-sub
		first := j.View()
		if first.MetaPending != "listing the pods of node n1" {
			t.Fatalf("first view's MetaPending = %q", first.MetaPending)
		}
		m.pending.Store("")
		m.set("v1") // the same labels: only the completeness changed
		<-sub
		if v := j.View(); v.MetaPending != "" || v.Version != first.Version+1 {
			t.Errorf("complete view: MetaPending %q, version %d; want \"\", %d", v.MetaPending, v.Version, first.Version+1)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// A burst that starts with a metadata change is rebuilt after
// MetaDebounce, one that starts with a process change after Debounce
// (on the synctest bubble's clock, so the times are exact).
func TestJoinerMetaDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ps := &procSource{ch: make(chan struct{}, 1)}
		ps.snap.Store(snapshot(1, "upf"))
		m := newMeta()
		j := NewJoiner(Options{Procs: ps, Meta: m, Debounce: 50 * time.Millisecond, MetaDebounce: 5 * time.Millisecond})
		next := j.Next()
		done := make(chan error, 1)
		go func() { done <- j.Run(ctx) }()
		<-next

		next, start := j.Next(), time.Now()
		m.set("v2")
		<-next
		if took := time.Since(start); took != 5*time.Millisecond {
			t.Errorf("relabel published after %v, want MetaDebounce's 5ms", took)
		}
		next, start = j.Next(), time.Now()
		ps.snap.Store(snapshot(2, "smf"))
		ps.ch <- struct{}{}
		<-next
		if took := time.Since(start); took != 50*time.Millisecond {
			t.Errorf("process change published after %v, want Debounce's 50ms", took)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}
