package kube

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bss-api/bss-api/internal/health"
)

// memPods is a PodStore in memory.
type memPods struct {
	mu    sync.Mutex
	nodes map[string]SavedPods
}

func (m *memPods) SavePods(_ context.Context, node string, rec SavedPods) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes == nil {
		m.nodes = map[string]SavedPods{}
	}
	m.nodes[node] = SavedPods{Data: append([]byte(nil), rec.Data...), SavedAt: rec.SavedAt}
	return nil
}

func (m *memPods) LoadPods(_ context.Context, node string) (SavedPods, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.nodes[node]
	return rec, ok, nil
}

// saved decodes node's record; nil when there is none.
func (m *memPods) saved(t *testing.T, node string) map[string]PodMeta {
	t.Helper()
	rec, ok, _ := m.LoadPods(context.Background(), node)
	if !ok {
		return nil
	}
	got, pods, err := DecodePods(rec.Data)
	if err != nil || got != node {
		t.Fatalf("DecodePods = node %q, %v", got, err)
	}
	out := map[string]PodMeta{}
	for _, p := range pods {
		out[p.UID] = p
	}
	return out
}

// flakyPods is the fake clientset's pods behind an API server that can
// be unreachable (calls fail) or hang (calls wait for their context).
type flakyPods struct {
	fakePods
	down, hang *atomic.Bool
}

func (p flakyPods) fail(ctx context.Context) error {
	if p.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if p.down.Load() {
		return errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	}
	return nil
}

func (p flakyPods) List(ctx context.Context, o metav1.ListOptions) (*corev1.PodList, error) {
	if err := p.fail(ctx); err != nil {
		return nil, err
	}
	return p.fakePods.List(ctx, o)
}

func (p flakyPods) Watch(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	if err := p.fail(ctx); err != nil {
		return nil, err
	}
	return p.fakePods.Watch(ctx, o)
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type rememberFixture struct {
	client     *fake.Clientset
	store      *memPods
	informer   *Informer
	down, hang atomic.Bool
}

// startRemembering runs an informer of node n1 on a flaky API server and
// store until the test ends.
func startRemembering(t *testing.T, store *memPods, syncTimeout time.Duration, setup func(f *rememberFixture)) *rememberFixture {
	t.Helper()
	f := &rememberFixture{client: fake.NewClientset(), store: store}
	if setup != nil {
		setup(f)
	}
	opts := InformerOptions{
		Pods:     flakyPods{fakePods{f.client.CoreV1().Pods(metav1.NamespaceAll)}, &f.down, &f.hang},
		NodeName: "n1", Mode: "kubeconfig", Resync: time.Hour, DeletedTTL: time.Minute,
		SaveDelay: 10 * time.Millisecond, SyncTimeout: syncTimeout,
	}
	if store != nil {
		opts.Saved = store
	}
	f.informer = NewInformer(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.informer.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return f
}

func recordOf(t *testing.T, labels map[string]string) *memPods {
	t.Helper()
	data, err := EncodePods("n1", []PodMeta{{UID: "u1", Name: "a", Namespace: "ns", Labels: labels,
		Containers: map[string]ContainerMeta{"c1": {Name: "app", Kind: Regular}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := &memPods{}
	_ = s.SavePods(context.Background(), "n1", SavedPods{Data: data, SavedAt: time.Now().Add(-time.Hour)})
	return s
}

func (f *rememberFixture) createPod(t *testing.T, labels map[string]string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: types.UID("u1"), Labels: labels},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://c1"}}}}
	if _, err := f.client.CoreV1().Pods("ns").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// A list that fails at start puts the saved record in use at once; the
// live list replaces it and is saved, and so is every later change.
func TestInformerFallsBackToTheSavedPods(t *testing.T) {
	store := recordOf(t, map[string]string{"v": "saved"})
	f := startRemembering(t, store, time.Hour, func(f *rememberFixture) { f.down.Store(true) })
	f.createPod(t, map[string]string{"v": "live"})

	eventually(t, "the saved record in use", func() bool { return f.informer.Pending() == "" })
	if m, ok := f.informer.Lookup("u1"); !ok || m.Labels["v"] != "saved" || m.Containers["c1"].Name != "app" {
		t.Errorf("Lookup from the saved record = %+v, %v", m, ok)
	}
	h := f.informer.Health(context.Background())
	if h.State != health.Degraded || !strings.Contains(h.Detail, "unreachable") || !strings.Contains(h.Detail, "persisted 1h0m0s ago") {
		t.Errorf("health = %+v; want degraded, naming the outage and the record's age", h)
	}

	f.down.Store(false)
	eventually(t, "the live list to replace the record", func() bool {
		m, ok := f.informer.Lookup("u1")
		return ok && m.Labels["v"] == "live"
	})
	eventually(t, "the live pods saved", func() bool { return store.saved(t, "n1")["u1"].Labels["v"] == "live" })
	if h := f.informer.Health(context.Background()); h.State != health.OK {
		t.Errorf("health once synced = %+v", h)
	}

	pod, err := f.client.CoreV1().Pods("ns").Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Labels = map[string]string{"v": "2"}
	if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relabel saved", func() bool {
		m := store.saved(t, "n1")["u1"]
		return m.Labels["v"] == "2" && m.Containers["c1"] == ContainerMeta{Name: "app", Kind: Regular}
	})
}

// Without a saved record nothing stands in: Pending says why until the
// informer syncs, and lookups know no pod.
func TestInformerWithoutSavedPodsIsPending(t *testing.T) {
	f := startRemembering(t, &memPods{}, time.Hour, func(f *rememberFixture) { f.down.Store(true) })
	f.createPod(t, map[string]string{"v": "live"})
	eventually(t, "the failed list", func() bool { return strings.Contains(f.informer.Pending(), "cannot list") })
	if p := f.informer.Pending(); !strings.Contains(p, "no pod metadata of this node is persisted") {
		t.Errorf("Pending = %q; want it to say that nothing is persisted", p)
	}
	if _, ok := f.informer.Lookup("u1"); ok {
		t.Error("a pod is known before any list")
	}
	f.down.Store(false)
	eventually(t, "the sync", func() bool { return f.informer.Pending() == "" })
	if m, ok := f.informer.Lookup("u1"); !ok || m.Labels["v"] != "live" {
		t.Errorf("Lookup once synced = %+v, %v", m, ok)
	}
}

// An API server that does not answer at all: the saved record is used
// once SyncTimeout has passed.
func TestInformerUsesTheSavedPodsAfterTheSyncTimeout(t *testing.T) {
	store := recordOf(t, map[string]string{"v": "saved"})
	f := startRemembering(t, store, 200*time.Millisecond, func(f *rememberFixture) { f.hang.Store(true) })
	if p := f.informer.Pending(); p == "" {
		t.Error("Pending is empty at once; the record must wait for the sync timeout")
	}
	eventually(t, "the saved record in use", func() bool { return f.informer.Pending() == "" })
	if m, ok := f.informer.Lookup("u1"); !ok || m.Labels["v"] != "saved" {
		t.Errorf("Lookup = %+v, %v", m, ok)
	}
}

// Another node's record, or one in another format, is not used.
func TestDecodePodsRefusesOtherFormats(t *testing.T) {
	if _, _, err := DecodePods([]byte(`{"format":2,"node":"n1","pods":[]}`)); err == nil {
		t.Error("DecodePods accepted format 2")
	}
	data, err := EncodePods("n1", []PodMeta{
		{UID: "b", Name: "b", Containers: map[string]ContainerMeta{"y": {Name: "y", Kind: Init}, "x": {Name: "x", Kind: Regular}}},
		{UID: "a", Name: "a", ConfigHash: "h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := EncodePods("n1", []PodMeta{
		{UID: "a", Name: "a", ConfigHash: "h"},
		{UID: "b", Name: "b", Containers: map[string]ContainerMeta{"x": {Name: "x", Kind: Regular}, "y": {Name: "y", Kind: Init}}},
	})
	if string(data) != string(again) {
		t.Errorf("the same pods encode differently:\n%s\n%s", data, again)
	}
	node, pods, err := DecodePods(data)
	if err != nil || node != "n1" || len(pods) != 2 || pods[0].UID != "a" || pods[1].Containers["y"].Kind != Init {
		t.Errorf("DecodePods = %q, %+v, %v", node, pods, err)
	}
}
