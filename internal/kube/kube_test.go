package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/testsupport/equaltest"
)

func TestTrimContainerID(t *testing.T) {
	for in, want := range map[string]string{
		"containerd://abc": "abc", "cri-o://abc": "abc", "docker://abc": "abc", "abc": "abc", "": "",
	} {
		if got := TrimContainerID(in); got != want {
			t.Errorf("TrimContainerID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetaFromPod(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u1", Labels: map[string]string{"x": "y"},
			Annotations: map[string]string{ConfigHashAnnotation: "h1"}},
		Status: corev1.PodStatus{
			ContainerStatuses:          []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://c1"}, {Name: "waiting"}},
			InitContainerStatuses:      []corev1.ContainerStatus{{Name: "init", ContainerID: "cri-o://c2"}},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "debug", ContainerID: "docker://c3"}},
		},
	}
	m := metaFromPod(p)
	if m.UID != "u1" || m.Name != "a" || m.Namespace != "ns" || m.Labels["x"] != "y" || m.ConfigHash != "h1" {
		t.Errorf("meta = %+v", m)
	}
	want := map[string]ContainerMeta{"c1": {"app", Regular}, "c2": {"init", Init}, "c3": {"debug", Ephemeral}}
	if len(m.Containers) != len(want) {
		t.Fatalf("containers = %v, want %v (a container without an ID is not running yet)", m.Containers, want)
	}
	for id, c := range want {
		if m.Containers[id] != c {
			t.Errorf("container %s = %+v, want %+v", id, m.Containers[id], c)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	tests := []struct {
		name     string
		s        Settings
		env      map[string]string
		wantMode string
		wantErr  string
	}{
		{"auto in a pod", Settings{}, map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, ModeInCluster, ""},
		{"auto with KUBECONFIG", Settings{}, map[string]string{"KUBECONFIG": kc, "HOME": home}, ModeKubeconfig, ""},
		{"auto with ~/.kube/config", Settings{}, map[string]string{"HOME": dir + "/h"}, ModeMock, ""},
		{"auto with nothing is mock", Settings{}, map[string]string{"HOME": home}, ModeMock, ""},
		{"seed --in-cluster", Settings{InCluster: true}, nil, ModeInCluster, ""},
		{"seed --kubeconfig", Settings{Kubeconfig: kc}, nil, ModeKubeconfig, ""},
		{"kubeconfig mode without a file", Settings{Mode: ModeKubeconfig}, map[string]string{"HOME": home}, "", "no kubeconfig found"},
		{"explicit off", Settings{Mode: ModeOff, Kubeconfig: kc}, nil, ModeOff, ""},
		{"auto with a mock file", Settings{MockFile: "pods.yaml"}, map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, ModeMock, ""},
		{"bad mode", Settings{Mode: "maybe"}, nil, "", "invalid --kube-mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, _, err := tt.s.Resolve(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Resolve() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || mode != tt.wantMode {
				t.Errorf("Resolve() = %q, %v; want %q", mode, err, tt.wantMode)
			}
		})
	}
}

func TestMockFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pods.json")
	content := `{"65979e01-4cb1-4d08-9dba-45530253ff00": {"name": "loki-0", "namespace": "monitoring",
	  "labels": {"app": "loki"}, "containers": {"containerd://abc": "loki"}}}`
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewMock(file)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := m.Lookup("65979e01-4cb1-4d08-9dba-45530253ff00")
	if !ok || p.Name != "loki-0" || p.Labels["app"] != "loki" || p.Containers["abc"].Name != "loki" {
		t.Errorf("Lookup = %+v, %v", p, ok)
	}
	if _, ok := m.Lookup("other"); ok {
		t.Error("a mock file answers for pods it does not list")
	}
	for _, bad := range []string{`{"u": {"name": "x", "namespace": "n", "extra": 1}}`, `{"u": {"name": "x", "namespace": "N!"}}`,
		`{"u": {"name": "x", "namespace": "n", "labels": {"bad key!": "v"}}}`, `not yaml: [`} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewMock(file); err == nil {
			t.Errorf("NewMock accepted %s", bad)
		}
	}
	gen, _ := NewMock("")
	if p, ok := gen.Lookup("65979e01-4cb1-4d08-9dba-45530253ff00"); !ok || p.Name != "mock-65979e01" || p.Namespace != "mock" {
		t.Errorf("generated = %+v", p)
	}
}

// fakePods is the fake clientset's pods, which cannot stream lists, and
// says so as the fake clientset itself does.
type fakePods struct{ typedcorev1.PodInterface }

func (fakePods) IsWatchListSemanticsUnSupported() bool { return true }

// TestInformerLifecycle drives the informer with a fake clientset: adds,
// relabels, static pods by config hash, deletes kept for the TTL.
func TestInformerLifecycle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	now := time.Now()
	clock := func() time.Time { return now }
	s := NewInformer(InformerOptions{Pods: fakePods{client.CoreV1().Pods(metav1.NamespaceAll)}, NodeName: "n1", Mode: "kubeconfig", Resync: time.Hour, DeletedTTL: time.Minute, Now: clock})
	changed, unsubscribe := s.Subscribe()
	defer unsubscribe()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: types.UID("u1"), Labels: map[string]string{"v": "1"}},
		Spec: corev1.PodSpec{NodeName: "n1"}}
	mirror := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-n1", Namespace: "kube-system", UID: types.UID("u2"),
		Annotations: map[string]string{ConfigHashAnnotation: "0123456789abcdef0123456789abcdef"}}, Spec: corev1.PodSpec{NodeName: "n1"}}
	for _, p := range []*corev1.Pod{pod, mirror} {
		if _, err := client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, changed, "pod u1 found", func() bool { _, ok := s.Lookup("u1"); return ok })
	waitFor(t, changed, "static pod found by its config hash", func() bool {
		m, ok := s.Lookup("0123456789abcdef0123456789abcdef")
		return ok && m.Name == "etcd-n1"
	})
	// Lookups can find the pods a moment before the informer reports its
	// first list synced, and health is "listing" until then.
	syncCtx, cancelSync := context.WithTimeout(ctx, 10*time.Second)
	defer cancelSync()
	if !cache.WaitForCacheSync(syncCtx.Done(), s.Synced) {
		t.Fatal("informer not synced within 10s")
	}
	if h := s.Health(ctx); h.State != health.OK {
		t.Errorf("health = %+v", h)
	}

	pod.Labels = map[string]string{"v": "2"}
	if _, err := client.CoreV1().Pods("ns").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changed, "relabel seen", func() bool { m, _ := s.Lookup("u1"); return m.Labels["v"] == "2" })

	v := s.Version()
	if err := client.CoreV1().Pods("ns").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changed, "deleted pod kept", func() bool { m, ok := s.Lookup("u1"); return ok && m.Deleted })
	if s.Version() == v {
		t.Error("version did not move on delete")
	}
	now = now.Add(2 * time.Minute)
	s.sweepDeleted()
	if _, ok := s.Lookup("u1"); ok {
		t.Error("a deleted pod is still resolvable after its TTL")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}

// waitFor waits up to 10 s for cond, checking it again after each change
// notification: the informer notifies after its cache has the change.
func waitFor(t *testing.T, changed <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// Only changes that lookups see wake the pod view.
func TestMetaChanged(t *testing.T) {
	type podSpec struct {
		resourceVersion string
		labels          map[string]string
		containerID     string
	}
	pod := func(s podSpec) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u1", Labels: s.labels, ResourceVersion: s.resourceVersion},
			Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: s.containerID}}},
		}
	}
	base := podSpec{resourceVersion: "1", labels: map[string]string{"app": "x"}, containerID: "containerd://c1"}
	for _, tt := range []struct {
		name string
		new  podSpec
		want bool
	}{
		{"resync replay", base, false},
		{"status-only update (new resourceVersion)", podSpec{"2", map[string]string{"app": "x"}, "containerd://c1"}, false},
		{"relabel", podSpec{"3", map[string]string{"app": "y"}, "containerd://c1"}, true},
		{"container restarted with a new ID", podSpec{"4", map[string]string{"app": "x"}, "containerd://c2"}, true},
	} {
		if got := metaChanged(pod(base), pod(tt.new)); got != tt.want {
			t.Errorf("%s: metaChanged = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// PodMeta.Equal decides whether an update wakes the pod view, so it must
// notice a change in anything a lookup returns.
func TestPodMetaEqual(t *testing.T) {
	base := func() PodMeta {
		return PodMeta{
			UID: "u1", Name: "a", Namespace: "ns", Labels: map[string]string{"app": "x"}, ConfigHash: "h1",
			Containers: map[string]ContainerMeta{"c1": {Name: "app", Kind: Regular}},
		}
	}
	type change = equaltest.Change[PodMeta]
	equaltest.Run(t, base, PodMeta.Equal, equaltest.Cases[PodMeta]{
		Notice: []change{
			{Field: "UID", Apply: func(m *PodMeta) { m.UID = "u2" }},
			{Field: "Name", Apply: func(m *PodMeta) { m.Name = "b" }},
			{Field: "Namespace", Apply: func(m *PodMeta) { m.Namespace = "other" }},
			{Field: "Labels", Apply: func(m *PodMeta) { m.Labels["app"] = "y" }},
			{Field: "ConfigHash", Apply: func(m *PodMeta) { m.ConfigHash = "h2" }},
			{Field: "Containers", Apply: func(m *PodMeta) { m.Containers["c2"] = ContainerMeta{Name: "app"} }},
			{Field: "Containers.Name", Apply: func(m *PodMeta) { m.Containers["c1"] = ContainerMeta{Name: "sidecar", Kind: Regular} }},
			{Field: "Containers.Kind", Apply: func(m *PodMeta) { m.Containers["c1"] = ContainerMeta{Name: "app", Kind: Init} }},
			{Field: "Deleted", Apply: func(m *PodMeta) { m.Deleted = true }},
		},
	})
	// A pod with no labels or statuses is the same whether its maps are nil
	// or empty: lookups read them alike.
	if !(PodMeta{UID: "u1"}).Equal(PodMeta{UID: "u1", Labels: map[string]string{}, Containers: map[string]ContainerMeta{}}) {
		t.Error("nil and empty maps differ")
	}
}
