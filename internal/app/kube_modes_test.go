package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestKubernetesOutage stops the API server under a running bss-api: it
// keeps serving the last metadata, reports degraded, and recovers by
// itself when the API server returns.
func TestKubernetesOutage(t *testing.T) {
	f := newKubeFixture(t)
	ns := f.namespace("bss-outage")
	p := f.pod(ns, "upf-0", f.node, map[string]string{"nf": "upf"}, "upf", "")
	srv := startServer(t, nil, "--kube-mode=kubeconfig", "--kubeconfig="+f.cp.Kubeconfig,
		"--node-name="+f.node, "--cgroup-root="+f.tree.H.CgroupRoot)
	want := wantKube(p, map[string]string{"nf": "upf"})
	waitKube(t, srv, p.uid, want, 30*time.Second)

	f.cp.StopAPIServer()
	waitFor(t, 60*time.Second, "kubernetes to report degraded", func() bool {
		return strings.HasPrefix(healthOf(t, srv, "kubernetes"), "degraded:")
	})
	t.Logf("while down: %s", healthOf(t, srv, "kubernetes"))
	if got, _ := kubeState(getKubePods(t, srv, ""), p.uid); !got.equal(want) {
		t.Errorf("during the outage the pod is %+v, want the last known %+v", got, want)
	}
	if res := srv.API.Get(t, "/readyz"); res.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d during an API server outage; the node's data is still served", res.StatusCode)
	}
	if res := srv.API.Get(t, "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d; an outage must not get the pod restarted", res.StatusCode)
	}

	f.cp.StartAPIServer()
	waitFor(t, 90*time.Second, "kubernetes to recover", func() bool {
		return strings.HasPrefix(healthOf(t, srv, "kubernetes"), "ok:")
	})
	// And the watch works again: a relabel shows.
	patch := `{"metadata":{"labels":{"nf":"upf2"}}}`
	if _, err := f.client.CoreV1().Pods(ns).Patch(context.Background(), p.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKube(t, srv, p.uid, wantKube(p, map[string]string{"nf": "upf2"}), 30*time.Second)
}

// TestKubernetesModes checks mock, off and the failure modes of a
// configured cluster, without a control plane.
func TestKubernetesModes(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	tree := testenv.NewCgroupTree(t, hs[0])
	progs := testenv.NewPrograms(t)
	uid, ctr := testenv.RandomUID(), testenv.RandomContainerID()
	dir := "kubepods/besteffort/pod" + uid + "/" + ctr
	tree.Mkdir(dir)
	proc := progs.Start("worker", 0)
	tree.Move(proc.PID, dir)
	cg := "--cgroup-root=" + tree.H.CgroupRoot
	noKube := map[string]string{"HOME": t.TempDir()} // no ~/.kube/config, no KUBECONFIG, not in a pod

	waitName := func(t *testing.T, srv *testServer, want string) {
		t.Helper()
		waitFor(t, 15*time.Second, "pod "+uid+" named "+want, func() bool {
			for _, p := range getKubePods(t, srv, "").Pods {
				if p.PodUID == uid {
					return p.Namespace+"/"+p.PodName == want
				}
			}
			return false
		})
	}

	t.Run("auto without any cluster falls back to generated mock names", func(t *testing.T) {
		srv := startServer(t, noKube, cg)
		waitName(t, srv, "mock/mock-"+uid[:8])
		if h := healthOf(t, srv, "kubernetes"); !strings.HasPrefix(h, "degraded: mock") {
			t.Errorf("kubernetes health = %s, want mock to be visible", h)
		}
	})

	t.Run("mock file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "pods.yaml")
		content := uid + ":\n  name: loki-0\n  namespace: monitoring\n  labels: {app: loki}\n  containers:\n    " + ctr + ": loki\n"
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, noKube, cg, "--kube-mode=mock", "--mock-pods="+file)
		waitName(t, srv, "monitoring/loki-0")
		if v := getKubePods(t, srv, "?label_selector=app%3Dloki"); len(v.Pods) != 1 {
			t.Errorf("label selector on mock labels found %d pods, want 1", len(v.Pods))
		}
	})

	t.Run("bad mock file is a startup error", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "pods.yaml")
		if err := os.WriteFile(file, []byte(uid+":\n  name: Not_Valid\n  namespace: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := Run(context.Background(), []string{"--kube-mode=mock", "--mock-pods=" + file, "--listen=127.0.0.1:0"},
			func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "Not_Valid") {
			t.Errorf("Run() = %v, want a usage error naming the bad name", err)
		}
	})

	t.Run("off", func(t *testing.T) {
		srv := startServer(t, noKube, cg, "--kube-mode=off")
		waitName(t, srv, "/")
		if h := healthOf(t, srv, "kubernetes"); !strings.HasPrefix(h, "disabled: off") {
			t.Errorf("kubernetes health = %s", h)
		}
	})

	t.Run("unreachable cluster is degraded, never mock", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		addr := freeAddr(t) // nothing listens there
		content := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://" + addr +
			"', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: x}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
		if err := os.WriteFile(kubeconfig, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := launchServer(t, map[string]string{"KUBECONFIG": kubeconfig}, nil, cg)
		waitFor(t, 30*time.Second, "degraded", func() bool {
			return strings.Contains(healthOf(t, srv, "kubernetes"), "unreachable")
		})
		waitName(t, srv, "/") // listed, without made-up names
		// But nothing is resolved with pods whose labels are unknown, and
		// no pod metadata of this node was ever persisted: not ready, and
		// GET strategies is a 503 that says why.
		if res := srv.API.Get(t, "/readyz"); res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d with no pod metadata at all; want 503", res.StatusCode)
		}
		res := srv.API.Get(t, "/api/v1/scheduling/strategies")
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(res.Body), `"success":false`) || !strings.Contains(string(res.Body), "pod metadata") {
			t.Errorf("GET strategies = %d (Retry-After %q) %s; want 503 naming the pod metadata", res.StatusCode, res.Header.Get("Retry-After"), res.Body)
		}
	})

	t.Run("configuration errors fail fast", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			env  map[string]string
			want string
		}{
			{[]string{"--in-cluster=true"}, nil, "KUBERNETES_SERVICE_HOST"},
			{[]string{"--kube-mode=in-cluster"}, nil, "not running in a pod"},
			{[]string{"--kube-mode=kubeconfig"}, map[string]string{"HOME": t.TempDir()}, "no kubeconfig found"},
			{[]string{"--kubeconfig=/nonexistent/kubeconfig"}, nil, "/nonexistent/kubeconfig"},
			{[]string{"--kube-mode=sometimes"}, nil, "--kube-mode"},
			{[]string{"--auth-kubernetes"}, map[string]string{"HOME": t.TempDir()}, "--auth-kubernetes needs a Kubernetes API server, but the Kubernetes mode is mock"},
		} {
			err := Run(context.Background(), append(tc.args, "--listen=127.0.0.1:0"),
				func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
			if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: Run() = %v, want a usage error mentioning %q", tc.args, err, tc.want)
			}
		}
	})
}

// TestManifestShape checks what the DaemonSet design relies on, without an
// API server.
func TestManifestShape(t *testing.T) {
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range manifestObjects(t) {
		// Several ClusterRoles: the server's own is the one named bss-api.
		if o.GetKind() != "ClusterRole" || o.GetName() == "bss-api" {
			byKind[o.GetKind()] = o
		}
	}
	ds := byKind["DaemonSet"]
	if ds == nil {
		t.Fatal("no DaemonSet in k8s/")
	}
	str := func(o *unstructured.Unstructured, path ...string) string {
		v, _, _ := unstructured.NestedFieldNoCopy(o.Object, path...)
		if v == nil {
			return ""
		}
		return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toJSON(v), "\n", ""), " ", ""))
	}
	spec := []string{"spec", "template", "spec"}
	checks := []struct {
		what, got, want string
	}{
		{"hostPID", str(ds, append(spec, "hostPID")...), "true"},
		{"service account", str(ds, append(spec, "serviceAccountName")...), `"bss-api"`},
		{"runAsNonRoot", str(ds, append(spec, "securityContext", "runAsNonRoot")...), "true"},
		{"Service internalTrafficPolicy", str(byKind["Service"], "spec", "internalTrafficPolicy"), `"Local"`},
		{"ClusterRole rules", str(byKind["ClusterRole"], "rules"), `[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
	containers, _, _ := unstructured.NestedSlice(ds.Object, append(spec, "containers")...)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := toJSON(containers[0])
	for _, want := range []string{`"path":"/healthz"`, `"path":"/readyz"`, `"fieldPath":"spec.nodeName"`, `"name":"NODE_NAME"`,
		`"readOnlyRootFilesystem":true`, `"--proc-root=/host/proc"`, `"--cgroup-root=/host/sys/fs/cgroup"`, `"--auth-kubernetes=true"`,
		`"mountPath":"/host/proc","name":"host-proc","readOnly":true`, `"limits":`, `"requests":`} {
		if !strings.Contains(c, want) {
			t.Errorf("DaemonSet container lacks %s: %s", want, c)
		}
	}
}
