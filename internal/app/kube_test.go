package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// kubePod is a pod created through the API server, with real cgroups and
// processes on this machine standing in for its containers.
type kubePod struct {
	ns, name, uid string
	sandbox, app  string // container IDs
	procs         []*testenv.Process
}

// kubeFixture is what the Kubernetes tests share: a control plane, a
// cgroup tree, and programs to run in it.
type kubeFixture struct {
	t      *testing.T
	cp     *testenv.ControlPlane
	client kubernetes.Interface
	tree   *testenv.CgroupTree
	progs  *testenv.Programs
	node   string
}

func newKubeFixture(t *testing.T) *kubeFixture {
	t.Helper()
	cp := testenv.StartControlPlane(t)
	hs := testenv.CgroupHierarchies(t)
	return &kubeFixture{
		t: t, cp: cp, client: cp.Client(), tree: testenv.NewCgroupTree(t, hs[0]),
		progs: testenv.NewPrograms(t), node: "node-" + strings.ToLower(testenv.RandomContainerID()[:8]),
	}
}

func (f *kubeFixture) namespace(prefix string) string {
	f.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	got, err := f.client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return got.Name
}

// pod creates a pod bound to node with labels, reports a running app
// container in its status, and builds its cgroups with a pause process in
// the sandbox and a process called command in the app container. A
// non-empty configHash makes it a static pod's mirror: the cgroups then
// carry the hash, not the UID.
func (f *kubeFixture) pod(ns, name, node string, labels map[string]string, command, configHash string) *kubePod {
	f.t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}},
		},
	}
	if configHash != "" {
		p.Annotations = map[string]string{"kubernetes.io/config.hash": configHash, "kubernetes.io/config.mirror": configHash}
	}
	created, err := f.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	kp := &kubePod{ns: ns, name: name, uid: string(created.UID),
		sandbox: testenv.RandomContainerID(), app: testenv.RandomContainerID()}
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + kp.app, Image: "example.invalid/app:1"}}
	if _, err := f.client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	cgUID := kp.uid
	if configHash != "" {
		cgUID = configHash
	}
	podDir := "kubepods/burstable/pod" + cgUID
	f.tree.Mkdir(podDir + "/" + kp.sandbox)
	f.tree.Mkdir(podDir + "/" + kp.app)
	pause := f.progs.Start("pause", 0)
	f.tree.Move(pause.PID, podDir+"/"+kp.sandbox)
	app := f.progs.Start(command, 0)
	f.tree.Move(app.PID, podDir+"/"+kp.app)
	kp.procs = []*testenv.Process{pause, app}
	return kp
}

// kubePodsView is the part of GET /api/v1/pods/pids these tests read.
type kubePodsView struct {
	UpdatedAt time.Time `json:"updated_at"`
	Pods      []struct {
		PodName    string            `json:"pod_name"`
		Namespace  string            `json:"namespace"`
		PodUID     string            `json:"pod_uid"`
		Labels     map[string]string `json:"labels"`
		Containers []struct {
			ContainerID   string `json:"container_id"`
			ContainerName string `json:"container_name"`
			Sandbox       bool   `json:"sandbox"`
		} `json:"containers"`
	} `json:"pods"`
}

// kubePodState is what these tests check of one pod in the view.
type kubePodState struct {
	Namespace, Name string
	Labels          map[string]string
	// Containers by ID: name and whether it is the sandbox.
	Containers map[string]kubeContainerState
}

type kubeContainerState struct {
	Name    string
	Sandbox bool
}

func (s kubePodState) equal(o kubePodState) bool {
	return s.Namespace == o.Namespace && s.Name == o.Name && maps.Equal(s.Labels, o.Labels) && maps.Equal(s.Containers, o.Containers)
}

// kubeState returns the state of the pod with uid, and whether it is listed.
func kubeState(v kubePodsView, uid string) (kubePodState, bool) {
	for _, p := range v.Pods {
		if p.PodUID != uid {
			continue
		}
		st := kubePodState{Namespace: p.Namespace, Name: p.PodName, Labels: p.Labels, Containers: map[string]kubeContainerState{}}
		for _, c := range p.Containers {
			st.Containers[c.ContainerID] = kubeContainerState{c.ContainerName, c.Sandbox}
		}
		return st, true
	}
	return kubePodState{}, false
}

func getKubePods(t *testing.T, srv *testServer, query string) kubePodsView {
	t.Helper()
	res := srv.API.Get(t, "/api/v1/pods/pids"+query)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET pods%s = %d %s", query, res.StatusCode, res.Body)
	}
	var v kubePodsView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitKube polls until the pod with uid is listed in state want.
func waitKube(t *testing.T, srv *testServer, uid string, want kubePodState, bound time.Duration) kubePodsView {
	t.Helper()
	type seen struct {
		State kubePodState
		view  kubePodsView
	}
	return poll(t, bound, fmt.Sprintf("pod %s to be %+v", uid, want), func() (seen, bool) {
		v := getKubePods(t, srv, "")
		got, listed := kubeState(v, uid)
		return seen{got, v}, listed && got.equal(want)
	}).view
}

// wantKube is the state of a fixture pod with its metadata and labels.
func wantKube(p *kubePod, labels map[string]string) kubePodState {
	return wantKubeAs(p.ns, p.name, labels, p.sandbox, p.app)
}

// wantKubeAs is a pod's state: its sandbox unnamed, its app container "app".
func wantKubeAs(ns, name string, labels map[string]string, sandbox, app string) kubePodState {
	return kubePodState{Namespace: ns, Name: name, Labels: labels, Containers: map[string]kubeContainerState{
		sandbox: {Name: "", Sandbox: true},
		app:     {Name: "app", Sandbox: false},
	}}
}

func healthOf(t *testing.T, srv *testServer, component string) string {
	t.Helper()
	res := srv.API.Get(t, "/health")
	var h struct {
		Components map[string]struct{ Status, Detail string }
	}
	if err := json.Unmarshal(res.Body, &h); err != nil {
		t.Fatal(err)
	}
	c := h.Components[component]
	return c.Status + ": " + c.Detail
}

// TestKubernetesIntegration runs the server against a real kube-apiserver
// with real cgroups and processes standing in for the pods' containers.
func TestKubernetesIntegration(t *testing.T) {
	f := newKubeFixture(t)
	ctx := context.Background()
	nsA, nsB := f.namespace("bss-a"), f.namespace("bss-b")
	upf := f.pod(nsA, "upf-0", f.node, map[string]string{"nf": "upf", "app": "core"}, "upf", "")
	gnb := f.pod(nsB, "gnb-0", f.node, map[string]string{"nf": "gnb"}, "nr-gnb", "")
	// A pod bound to another node, whose UID nevertheless has cgroups here:
	// the server must not know its name, because it never fetches pods of
	// other nodes.
	other := f.pod(nsA, "elsewhere-0", "some-other-node", map[string]string{"nf": "upf"}, "other", "")
	// A static pod: its cgroups carry the kubelet's config hash, found on
	// the mirror pod's annotation.
	hash := strings.ReplaceAll(testenv.RandomUID(), "-", "")
	static := f.pod(nsA, "etcd-static", f.node, map[string]string{"tier": "control-plane"}, "etcd", hash)

	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+f.cp.Kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot)

	t.Run("names, namespaces, labels and containers", func(t *testing.T) {
		waitKube(t, srv, upf.uid, wantKube(upf, map[string]string{"app": "core", "nf": "upf"}), 30*time.Second)
		waitKube(t, srv, gnb.uid, wantKube(gnb, map[string]string{"nf": "gnb"}), 30*time.Second)
		// The static pod is listed under its cgroup UID, the config hash.
		waitKube(t, srv, hash, wantKubeAs(nsA, "etcd-static", map[string]string{"tier": "control-plane"}, static.sandbox, static.app), 30*time.Second)
		got, listed := kubeState(getKubePods(t, srv, ""), other.uid)
		if !listed || got.Namespace != "" || got.Name != "" || len(got.Labels) != 0 {
			t.Errorf("pod of another node = %+v (listed %v), want it listed without metadata", got, listed)
		}
		if h := healthOf(t, srv, "kubernetes"); !strings.HasPrefix(h, "ok: kubeconfig") {
			t.Errorf("kubernetes health = %s", h)
		}
	})

	t.Run("namespace and label selector filters", func(t *testing.T) {
		for query, want := range map[string][]string{
			"?namespace=" + nsB:                          {gnb.uid},
			"?label_selector=nf%3Dupf":                   {upf.uid},
			"?label_selector=nf+in+(upf,gnb)":            {upf.uid, gnb.uid},
			"?namespace=" + nsA + "&label_selector=tier": {hash},
		} {
			v := getKubePods(t, srv, query)
			var got []string
			for _, p := range v.Pods {
				got = append(got, p.PodUID)
			}
			if !sameSet(got, want) {
				t.Errorf("%s: pods %v, want %v", query, got, want)
			}
		}
	})

	t.Run("relabel is visible", func(t *testing.T) {
		patch := []byte(`{"metadata":{"labels":{"nf":"smf"}}}`)
		changed := time.Now()
		if _, err := f.client.CoreV1().Pods(nsA).Patch(ctx, upf.name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		v := waitKube(t, srv, upf.uid, wantKube(upf, map[string]string{"app": "core", "nf": "smf"}), 10*time.Second)
		logLag(t, "relabel", v.UpdatedAt, changed)
	})

	t.Run("a deleted pod still resolves for a while", func(t *testing.T) {
		zero := int64(0)
		if err := f.client.CoreV1().Pods(nsB).Delete(ctx, gnb.name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		// Its processes still run (the kubelet has not stopped them yet):
		// through the informer's delete and beyond, the pod keeps its name.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if got, _ := kubeState(getKubePods(t, srv, ""), gnb.uid); !got.equal(wantKube(gnb, map[string]string{"nf": "gnb"})) {
				t.Fatalf("deleted pod = %+v, want its last known metadata", got)
			}
		}
		if _, err := f.client.CoreV1().Pods(nsB).Get(ctx, gnb.name, metav1.GetOptions{}); err == nil {
			t.Error("the pod was not deleted")
		}
	})

	t.Run("RBAC from the manifest is enough and no more", func(t *testing.T) {
		testManifestRBAC(t, f)
	})

	t.Run("every manifest passes server-side dry run", func(t *testing.T) {
		testManifestsDryRun(t, f.cp)
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// testManifestRBAC applies the manifest's ServiceAccount and RBAC for real,
// runs a server with a token of that ServiceAccount, and checks what the
// token may and may not do.
func testManifestRBAC(t *testing.T, f *kubeFixture) {
	ctx := context.Background()
	applyManifests(t, f.cp, false, "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
	exp := int64(3600)
	tok, err := f.client.CoreV1().ServiceAccounts("bss-system").CreateToken(ctx, "bss-api",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := f.cp.WriteKubeconfig("bss-api", tok.Status.Token)

	// The server works with exactly these permissions.
	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot)
	waitFor(t, 30*time.Second, "the service account's server to name pods", func() bool {
		for _, p := range getKubePods(t, srv, "").Pods {
			if p.PodName == "upf-0" {
				return true
			}
		}
		return false
	})

	cfg := f.cp.Config()
	cfg.BearerToken, cfg.BearerTokenFile = tok.Status.Token, ""
	cfg.Username, cfg.Password, cfg.CertFile, cfg.KeyFile, cfg.CertData, cfg.KeyData = "", "", "", "", nil, nil
	sa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		verb, resource, group string
		want                  bool
	}{
		{"list", "pods", "", true},
		{"watch", "pods", "", true},
		{"get", "pods", "", true},
		{"delete", "pods", "", false},
		{"create", "pods", "", false},
		{"update", "pods", "", false},
		{"list", "secrets", "", false},
		{"get", "configmaps", "", false},
		{"list", "nodes", "", false},
		{"list", "daemonsets", "apps", false},
		// --auth-kubernetes: system:auth-delegator, and no more.
		{"create", "tokenreviews", "authentication.k8s.io", true},
		{"create", "subjectaccessreviews", "authorization.k8s.io", true},
		{"impersonate", "users", "", false},
		{"create", "strategies", "api.bss-api.io", false},
	} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: tc.verb, Resource: tc.resource, Group: tc.group},
		}}
		got, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tc.want {
			t.Errorf("service account may %s %s: %v, want %v", tc.verb, tc.resource, got.Status.Allowed, tc.want)
		}
	}
	// And for real: listing secrets is refused.
	if _, err := sa.CoreV1().Secrets("bss-system").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the service account could list secrets")
	}
}
