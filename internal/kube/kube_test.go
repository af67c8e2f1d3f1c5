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

// TestInformerLifecycle drives the informer with a fake clientset: adds,
// relabels, static pods by config hash, deletes kept for the TTL.
func TestInformerLifecycle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	now := time.Now()
	clock := func() time.Time { return now }
	s := NewInformer(InformerOptions{Client: client, NodeName: "n1", Mode: "kubeconfig", Resync: time.Hour, DeletedTTL: time.Minute, Now: clock})
	notify, unsubscribe := s.Subscribe()
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
	eventually(t, func() bool { _, ok := s.Lookup("u1"); return ok })
	<-notify
	eventually(t, func() bool {
		m, ok := s.Lookup("0123456789abcdef0123456789abcdef")
		return ok && m.Name == "etcd-n1" // a static pod, found by its config hash
	})
	if h := s.Health(ctx); h.State != "ok" {
		t.Errorf("health = %+v", h)
	}

	pod.Labels = map[string]string{"v": "2"}
	if _, err := client.CoreV1().Pods("ns").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { m, _ := s.Lookup("u1"); return m.Labels["v"] == "2" })

	v := s.Version()
	if err := client.CoreV1().Pods("ns").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { m, ok := s.Lookup("u1"); return ok && m.Deleted })
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

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetaChanged(t *testing.T) {
	pod := func(rv string, labels map[string]string, ctr string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u1", Labels: labels, ResourceVersion: rv},
			Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: ctr}}},
		}
	}
	base := pod("1", map[string]string{"app": "x"}, "containerd://c1")
	for _, tt := range []struct {
		name string
		new  *corev1.Pod
		want bool
	}{
		{"resync replay", base, false},
		{"status-only update (new resourceVersion)", pod("2", map[string]string{"app": "x"}, "containerd://c1"), false},
		{"relabel", pod("3", map[string]string{"app": "y"}, "containerd://c1"), true},
		{"container restarted with a new ID", pod("4", map[string]string{"app": "x"}, "containerd://c2"), true},
	} {
		if got := metaChanged(base, tt.new); got != tt.want {
			t.Errorf("%s: metaChanged = %v, want %v", tt.name, got, tt.want)
		}
	}
}
