package podview

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/procs"
)

const (
	uidA = "65979e01-4cb1-4d08-9dba-45530253ff00"
	uidB = "0c7c7a5e-1d2f-4b3a-9e8d-7f6a5b4c3d2e"
	c0   = "0e1f5c3d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	c1   = "5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67"
	c2   = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

func snapshot(version uint64, app string) *procs.Snapshot {
	return procs.NewSnapshot(version, time.Unix(1_750_000_000, 0), []procs.Pod{
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
	ch      chan struct{}
}

func newMeta() *meta {
	m := &meta{ch: make(chan struct{}, 1)}
	m.labels.Store("v1")
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
func (m *meta) Subscribe() (<-chan struct{}, func()) { return m.ch, func() {} }
func (m *meta) set(labels string) {
	m.labels.Store(labels)
	m.version.Add(1)
	m.ch <- struct{}{}
}

func TestBuildJoinsMetadata(t *testing.T) {
	v := Build(1, snapshot(1, "upf"), newMeta())
	a, ok := v.Pod(uidA)
	if !ok || a.Name != "a" || a.Labels["v"] != "v1" || !a.Known {
		t.Fatalf("pod A = %+v", a)
	}
	if c, _ := a.Container(c1); c.Name != "app" || c.Sandbox {
		t.Errorf("app container = %+v", c)
	}
	if c, _ := a.Container(c0); !c.Sandbox {
		t.Errorf("the container no status names is not the sandbox: %+v", c)
	}
	b, _ := v.Pod(uidB)
	if c, _ := b.Container(c2); !c.Sandbox {
		t.Errorf("without statuses the pause-only container must stay the sandbox by heuristic: %+v", c)
	}
	if p, ok := v.PodOfPID(20); !ok || p.UID != uidA {
		t.Errorf("PodOfPID(20) = %v, %v", p, ok)
	}
}

type procSource struct {
	snap atomic.Pointer[procs.Snapshot]
	ch   chan struct{}
}

func (p *procSource) Snapshot() *procs.Snapshot            { return p.snap.Load() }
func (p *procSource) Subscribe() (<-chan struct{}, func()) { return p.ch, func() {} }

func TestJoinerVersions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := &procSource{ch: make(chan struct{}, 1)}
	ps.snap.Store(snapshot(1, "upf"))
	m := newMeta()
	j := NewJoiner(ps, m, time.Millisecond)
	sub, unsub := j.Subscribe()
	defer unsub()
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	<-sub
	v1 := j.View()
	if v1 == nil || v1.Version != 1 {
		t.Fatalf("first view = %+v", v1)
	}
	m.set("v2") // a relabel: a new version
	<-sub
	if v := j.View(); v.Version != 2 {
		t.Errorf("after relabel version = %d, want 2", v.Version)
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
	select {
	case <-sub:
		t.Errorf("a metadata change with the view unchanged published a view (version %d)", j.View().Version)
	case <-time.After(100 * time.Millisecond):
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
}
