package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ControlPlane is a real etcd and kube-apiserver on loopback, started by
// hack/controlplane/start.sh for one test and stopped when it ends.
type ControlPlane struct {
	Dir        string
	Kubeconfig string // admin kubeconfig
	URL        string // https://127.0.0.1:PORT
	Token      string // admin bearer token
	CAFile     string // the apiserver's serving certificate
	t          testing.TB
	scripts    string
}

// StartControlPlane starts a private control plane. It needs the binaries
// built by hack/controlplane/build.sh, which hack/test.sh runs and names in
// BSS_CONTROLPLANE_BIN_DIR; without them the test skips (strict: fails),
// since a cold build takes many minutes.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	bin := os.Getenv("BSS_CONTROLPLANE_BIN_DIR")
	_, err := os.Stat(filepath.Join(bin, "kube-apiserver"))
	Require(t, bin != "" && err == nil,
		"no kube-apiserver: run hack/controlplane/build.sh and set BSS_CONTROLPLANE_BIN_DIR to the directory it prints")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp := &ControlPlane{Dir: t.TempDir(), t: t, scripts: filepath.Join(root, "hack", "controlplane")}
	if out, err := exec.Command(filepath.Join(cp.scripts, "start.sh"), cp.Dir).CombinedOutput(); err != nil {
		t.Fatalf("start control plane: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(filepath.Join(cp.scripts, "stop.sh"), cp.Dir).CombinedOutput(); err != nil {
			t.Errorf("stop control plane: %v\n%s", err, out)
		}
	})
	env := readEnvFile(cp.t, filepath.Join(cp.Dir, "env"))
	cp.Kubeconfig, cp.URL, cp.Token, cp.CAFile = env["KUBECONFIG"], env["BSS_KUBE_APISERVER_URL"], env["BSS_KUBE_ADMIN_TOKEN"], env["BSS_KUBE_CA_FILE"]
	return cp
}

// readEnvFile parses the export lines the hack/*/start.sh scripts write
// to their env file.
func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = strings.Trim(v, `'"`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// Config returns an admin client configuration with a generous rate limit.
func (cp *ControlPlane) Config() *rest.Config {
	cp.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		cp.t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Client returns an admin clientset.
func (cp *ControlPlane) Client() kubernetes.Interface {
	cp.t.Helper()
	c, err := kubernetes.NewForConfig(cp.Config())
	if err != nil {
		cp.t.Fatal(err)
	}
	return c
}

// WriteKubeconfig writes a kubeconfig for this API server that
// authenticates with token, and returns its path.
func (cp *ControlPlane) WriteKubeconfig(name, token string) string {
	cp.t.Helper()
	path := filepath.Join(cp.t.TempDir(), name+".kubeconfig")
	content := `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ` + cp.URL + `
    certificate-authority: ` + cp.CAFile + `
users:
- name: ` + name + `
  user:
    token: ` + token + `
contexts:
- name: test
  context: {cluster: test, user: ` + name + `}
current-context: test
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		cp.t.Fatal(err)
	}
	return path
}

// StopAPIServer stops kube-apiserver, leaving etcd running.
func (cp *ControlPlane) StopAPIServer() {
	cp.t.Helper()
	cmd := exec.Command(filepath.Join(cp.scripts, "stop.sh"), cp.Dir)
	cmd.Env = append(os.Environ(), "BSS_CONTROLPLANE_ONLY=kube-apiserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		cp.t.Fatalf("stop kube-apiserver: %v\n%s", err, out)
	}
}

// StartAPIServer starts kube-apiserver again with the same flags and port.
func (cp *ControlPlane) StartAPIServer() {
	cp.t.Helper()
	if out, err := exec.Command(filepath.Join(cp.scripts, "start.sh"), "--restart-apiserver", cp.Dir).CombinedOutput(); err != nil {
		cp.t.Fatalf("restart kube-apiserver: %v\n%s", err, out)
	}
}

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/bss-api/bss-api\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
