package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// The chart tests live here, beside the k8s/ manifest tests, because they
// check the same things of the chart's renderings (the role table, the
// server-side dry run) and one more: that k8s/deployment.yaml is the
// chart's default rendering.

// chartRelease and chartNamespace are what k8s/deployment.yaml is a
// rendering of: helm template bss-api charts/bss-api -n bss-system.
const (
	chartRelease   = "bss-api"
	chartNamespace = "bss-system"
)

// chartCases are the values files the chart is tested with: its defaults
// and every file under charts/bss-api/ci/ (the directory chart-testing
// reads too), by name.
func chartCases(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("want at least 4 values files under charts/bss-api/ci/, got %v (%v)", files, err)
	}
	cases := map[string]string{"default": ""}
	for _, f := range files {
		cases[strings.TrimSuffix(filepath.Base(f), "-values.yaml")] = f
	}
	return cases
}

func chartDir(t *testing.T) string { return filepath.Join(testenv.RepoRoot(t), "charts", "bss-api") }

// helmBin is helm as hack/helm/build.sh builds it, named by BSS_HELM_BIN.
func helmBin(t *testing.T) string {
	t.Helper()
	return testenv.Binary(t, "BSS_HELM_BIN", "helm")
}

// runHelm runs helm with args against the chart; HOME and the helm
// directories point into a temporary directory so no user configuration
// takes part.
func runHelm(t *testing.T, helm string, args ...string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// renderChart is helm template of the chart with a values file (none:
// the defaults) and extra --set arguments, CRDs included.
func renderChart(t *testing.T, helm, valuesFile string, set ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := []string{"template", chartRelease, chartDir(t), "--namespace", chartNamespace, "--include-crds"}
	if valuesFile != "" {
		args = append(args, "--values", valuesFile)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, helm, args...)
	if err != nil {
		return nil, err
	}
	return decodeObjects(t, "helm template "+valuesFile, out), nil
}

func mustRenderChart(t *testing.T, helm, valuesFile string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := renderChart(t, helm, valuesFile, set...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestChartLint(t *testing.T) {
	helm := helmBin(t)
	for name, values := range chartCases(t) {
		args := []string{"lint", "--strict", chartDir(t)}
		if values != "" {
			args = append(args, "--values", values)
		}
		if out, err := runHelm(t, helm, args...); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}

// TestChartRefuses checks that values the server could not run with are
// refused when rendering, by the schema or by the templates, with a
// message naming the problem.
func TestChartRefuses(t *testing.T) {
	helm := helmBin(t)
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"replicas=3"}, "additional properties 'replicas' not allowed"},
		{[]string{"auth.kubernetes.tokenAudience=x"}, "additional properties 'tokenAudience' not allowed"},
		{[]string{"strategySource=etcd"}, "value must be one of 'store', 'kubernetes'"},
		{[]string{"logFormat=xml"}, "value must be one of 'json', 'text'"},
		{[]string{"service.port=0"}, "/service/port"},
		{[]string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{[]string{"dataDir=relative"}, "/dataDir"},
		{[]string{"auth.kubernetes.enabled=false"}, "no credential method"},
		{[]string{"auth.clientCA.secretName=ca"}, "auth.clientCA needs auth.tls"},
		{[]string{"serviceAccount.create=false"}, "serviceAccount.name is required"},
		{[]string{"serviceMonitor.authorization.type=Bearer"}, "/serviceMonitor/authorization"},
		{[]string{"serviceMonitor.authorization.credentials.name=s"}, "missing property 'key'"},
	} {
		_, err := renderChart(t, helm, "", c.set...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--set %v: error %v, want one containing %q", c.set, err, c.want)
		}
	}
	// With no credential method at all, the insecure switch is explicit
	// and the server is told to listen beyond loopback.
	objs := mustRenderChart(t, helm, "", "auth.kubernetes.enabled=false", "auth.insecureListenUnauthenticated=true")
	args := containerArgs(t, objs)
	for _, want := range []string{"--insecure-listen-unauthenticated=true", "--listen=:8080"} {
		if !slices.Contains(args, want) {
			t.Errorf("no credential method, insecure: args %v lack %s", args, want)
		}
	}
}

// TestChartIsTheManifest keeps k8s/deployment.yaml equal to the chart's
// default rendering: the same objects with the same content, except the
// Namespace, which only the kubectl manifest creates, Helm's own
// bookkeeping labels, and the CRDs, which kubectl users apply from the
// chart's crds/ directory. Comments are not compared.
func TestChartIsTheManifest(t *testing.T) {
	helm := helmBin(t)
	chart := objectsByKey(t, mustRenderChart(t, helm, ""))
	manifest := map[string]*unstructured.Unstructured{}
	for _, o := range manifestObjects(t) {
		if o.GetKind() != "Namespace" {
			manifest[objectKey(o)] = o
		} else if o.GetName() != chartNamespace {
			t.Errorf("k8s/ creates namespace %s, the chart is rendered into %s", o.GetName(), chartNamespace)
		}
	}
	for key, want := range manifest {
		got, ok := chart[key]
		if !ok {
			t.Errorf("the chart does not render %s", key)
			continue
		}
		if !reflect.DeepEqual(got.Object, want.Object) {
			g, _ := yaml.Marshal(got.Object)
			w, _ := yaml.Marshal(want.Object)
			t.Errorf("%s differs between the chart (with its defaults) and k8s/:\nchart:\n%s\nk8s/:\n%s", key, g, w)
		}
	}
	for key, o := range chart {
		// kubectl users apply the CRDs from charts/bss-api/crds/ itself.
		if _, ok := manifest[key]; !ok && o.GetKind() != "CustomResourceDefinition" {
			t.Errorf("the chart renders %s, k8s/ has no such object", key)
		}
	}
}

// helmLabels are the labels Helm charts add for their own bookkeeping;
// the kubectl manifest has none of them.
var helmLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"}

// objectsByKey indexes a rendering by objectKey, without Helm's labels.
func objectsByKey(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		o = o.DeepCopy()
		labels := o.GetLabels()
		for _, l := range helmLabels {
			// Helm installs crds/ as written, untemplated: no release labels.
			if _, ok := labels[l]; !ok && o.GetKind() != "CustomResourceDefinition" {
				t.Errorf("%s lacks the label %s", objectKey(o), l)
			}
			delete(labels, l)
		}
		o.SetLabels(labels)
		if _, dup := m[objectKey(o)]; dup {
			t.Errorf("the chart renders %s twice", objectKey(o))
		}
		m[objectKey(o)] = o
	}
	return m
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// TestChartRenderings checks what each values file is for, and that every
// rendering's caller ClusterRoles are the role table.
func TestChartRenderings(t *testing.T) {
	helm := helmBin(t)
	cases := chartCases(t)
	render := func(t *testing.T, name string) map[string]*unstructured.Unstructured {
		values, ok := cases[name]
		if !ok {
			t.Fatalf("no values file %s-values.yaml", name)
		}
		objs := mustRenderChart(t, helm, values)
		checkRoleTable(t, "the chart with "+name, chartRelease+"-", objs)
		return objectsByKey(t, objs)
	}
	for name := range cases {
		t.Run(name, func(t *testing.T) { render(t, name) })
	}
	manifest := objectsByKey(t, mustRenderChart(t, helm, ""))

	t.Run("auth, TLS and monitoring", func(t *testing.T) {
		objs := render(t, "auth-tls-monitoring")
		ds := objs["DaemonSet bss-system/bss-api"]
		args := nestedStrings(ds, "spec", "template", "spec", "containers", "0", "args")
		for _, want := range []string{"--auth-kubernetes=true", "--auth-token-audiences=bss-api",
			"--tls-cert-file=/etc/bss-api/tls/tls.crt", "--tls-key-file=/etc/bss-api/tls/tls.key", "--tls-client-ca-file=/etc/bss-api/client-ca/ca.crt"} {
			if !slices.Contains(args, want) {
				t.Errorf("args %v lack %s", args, want)
			}
		}
		c := toJSON(nestedField(ds, "spec", "template", "spec", "containers", "0"))
		if n := strings.Count(c, `"scheme":"HTTPS"`); n != 3 {
			t.Errorf("%d of 3 probes use HTTPS: %s", n, c)
		}
		vols := toJSON(nestedField(ds, "spec", "template", "spec", "volumes"))
		for _, want := range []string{`"secretName":"bss-api-tls"`, `"secretName":"bss-api-client-ca"`} {
			if !strings.Contains(vols, want) {
				t.Errorf("volumes lack %s: %s", want, vols)
			}
		}
		if _, ok := objs["ClusterRoleBinding /bss-api-auth-delegator"]; !ok {
			t.Error("no auth-delegator binding with auth.kubernetes on")
		}
		sm := objs["ServiceMonitor bss-system/bss-api"]
		if got := toJSON(nestedField(sm, "spec", "endpoints", "0", "scheme")); got != `"https"` {
			t.Errorf("ServiceMonitor scheme = %s, want https", got)
		}
		if got := sm.GetLabels()["release"]; got != "prometheus" {
			t.Errorf("ServiceMonitor label release = %q", got)
		}
		if got := toJSON(nestedField(sm, "spec", "endpoints", "0", "bearerTokenFile")); got != `"/var/run/secrets/kubernetes.io/serviceaccount/token"` {
			t.Errorf("ServiceMonitor bearerTokenFile = %s, want Prometheus's ServiceAccount token with auth.kubernetes", got)
		}
		scraper, err := rulePermissions(clusterRoleRules(t, objs["ClusterRole /bss-api:metrics-scraper"]))
		if want := (auth.Permission{Verb: "get", Path: "/metrics"}); err != nil || len(scraper) != 1 || !scraper[want] {
			t.Errorf("the scraper's ClusterRole grants %v (%v), want %v alone", permissionList(scraper), err, want)
		}
		if rb := objs["ClusterRoleBinding /bss-api:metrics-scraper"]; rb == nil ||
			toJSON(rb.Object["subjects"]) != `[{"kind":"ServiceAccount","name":"prometheus-k8s","namespace":"monitoring"}]` {
			t.Errorf("the scraper's ClusterRoleBinding = %v, want it bound to monitoring/prometheus-k8s", rb)
		}
		rules, err := os.ReadFile(filepath.Join(chartDir(t), "files", "alerts.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(rules), 4096).Decode(&want); err != nil {
			t.Fatal(err)
		}
		if got := objs["PrometheusRule bss-system/bss-api"]; got == nil || !reflect.DeepEqual(got.Object["spec"], want) {
			t.Errorf("PrometheusRule spec is not files/alerts.yaml: %v", got)
		}
		dashboard, err := os.ReadFile(filepath.Join(chartDir(t), "files", "dashboard.json"))
		if err != nil {
			t.Fatal(err)
		}
		cm := objs["ConfigMap bss-system/bss-api-dashboard"]
		if got, _, _ := unstructured.NestedString(cm.Object, "data", "bss-api.json"); got != strings.TrimSpace(string(dashboard)) || !json.Valid([]byte(got)) {
			t.Errorf("dashboard ConfigMap data is not files/dashboard.json:\n%s", got)
		}
		if cm.GetLabels()["grafana_dashboard"] != "1" {
			t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard: \"1\"", cm.GetLabels())
		}
	})

	t.Run("static tokens and the scheduler token exchange", func(t *testing.T) {
		objs := render(t, "static-auth")
		args := nestedStrings(objs["DaemonSet bss-system/bss-api"], "spec", "template", "spec", "containers", "0", "args")
		for _, want := range []string{"--token-auth-file=/etc/bss-api/tokens/tokens.csv",
			"--scheduler-public-key-file=/etc/bss-api/scheduler-token/scheduler.pub", "--scheduler-token-key-file=/etc/bss-api/scheduler-token/signing.key"} {
			if !slices.Contains(args, want) {
				t.Errorf("args %v lack %s", args, want)
			}
		}
		if slices.ContainsFunc(args, func(a string) bool {
			return strings.HasPrefix(a, "--auth-kubernetes") || strings.HasPrefix(a, "--listen")
		}) {
			t.Errorf("args %v: Kubernetes auth off and credentials on need neither --auth-kubernetes nor --listen", args)
		}
		if _, ok := objs["ClusterRoleBinding /bss-api-auth-delegator"]; ok {
			t.Error("auth-delegator binding without auth.kubernetes: TokenReview and SubjectAccessReview are never used")
		}
		ep := toJSON(nestedField(objs["ServiceMonitor bss-system/bss-api"], "spec", "endpoints", "0"))
		if want := `"authorization":{"credentials":{"key":"token","name":"bss-api-prometheus"},"type":"Bearer"}`; !strings.Contains(ep, want) ||
			strings.Contains(ep, "bearerTokenFile") {
			t.Errorf("ServiceMonitor endpoint %s: want %s and no bearerTokenFile", ep, want)
		}
	})

	t.Run("process events is k8s/process-events/patch.json", func(t *testing.T) {
		got := render(t, "process-events")["DaemonSet bss-system/bss-api"]
		want := manifest["DaemonSet bss-system/bss-api"].DeepCopy()
		patch, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "k8s", "process-events", "patch.json"))
		if err != nil {
			t.Fatal(err)
		}
		applyJSONPatch(t, want.Object, patch)
		if !reflect.DeepEqual(got.Object, want.Object) {
			g, _ := yaml.Marshal(got.Object)
			w, _ := yaml.Marshal(want.Object)
			t.Errorf("DaemonSet with processEvents.enabled:\n%s\nthe default one patched with k8s/process-events/patch.json:\n%s", g, w)
		}
	})

	t.Run("strategy source kubernetes", func(t *testing.T) {
		objs := render(t, "strategy-kubernetes")
		ds := objs["DaemonSet bss-system/bss-api"]
		args := nestedStrings(ds, "spec", "template", "spec", "containers", "0", "args")
		if !slices.Contains(args, "--strategy-source=kubernetes") {
			t.Errorf("args %v lack --strategy-source=kubernetes", args)
		}
		if slices.Contains(nestedStrings(manifest["DaemonSet bss-system/bss-api"], "spec", "template", "spec", "containers", "0", "args"), "--strategy-source=kubernetes") {
			t.Error("the default rendering reads strategies from Kubernetes")
		}
		group := "scheduling.bss-api.io"
		wantRules := []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{group}, Resources: []string{"schedulingstrategies", "clusterschedulingstrategies"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{group}, Resources: []string{"schedulingstrategies/status", "clusterschedulingstrategies/status"}, Verbs: []string{"update"}},
		}
		if got := clusterRoleRules(t, objs["ClusterRole /bss-api"]); !reflect.DeepEqual(got, wantRules) {
			t.Errorf("server ClusterRole rules = %+v, want %+v", got, wantRules)
		}
		role := objs["Role bss-system/bss-api-leader-election"]
		if role == nil {
			t.Fatal("no Role for the Lease in the release namespace")
		}
		if got, want := toJSON(role.Object["rules"]), `[{"apiGroups":["coordination.k8s.io"],"resources":["leases"],"verbs":["get","create","update"]}]`; got != want {
			t.Errorf("Lease Role rules = %s, want %s", got, want)
		}
		rb := objs["RoleBinding bss-system/bss-api-leader-election"]
		if rb == nil || toJSON(rb.Object["subjects"]) != `[{"kind":"ServiceAccount","name":"bss-api","namespace":"bss-system"}]` {
			t.Errorf("Lease RoleBinding = %v, want one binding the server's ServiceAccount", rb)
		}
		if _, ok := manifest["Role bss-system/bss-api-leader-election"]; ok {
			t.Error("the default rendering grants Lease access")
		}
	})
}

// TestChartDryRun passes every object of every rendering (CRDs included)
// through a server-side dry run on a real kube-apiserver. The
// ServiceMonitor and PrometheusRule are checked against
// testdata/monitoring-crds.yaml, the Prometheus Operator's own CRDs
// (v0.90.1): an undeclared or mistyped field is refused.
func TestChartDryRun(t *testing.T) {
	helm := helmBin(t)
	cp := testenv.StartControlPlane(t)
	applyManifests(t, cp, false, "Namespace")
	crds, err := os.ReadFile(filepath.Join("testdata", "monitoring-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	applyObjects(t, cp, false, decodeObjects(t, "testdata/monitoring-crds.yaml", crds))
	waitForResources(t, cp, "monitoring.coreos.com/v1", "servicemonitors", "prometheusrules")

	kinds := map[string]bool{}
	for name, values := range chartCases(t) {
		objs := mustRenderChart(t, helm, values)
		if n := applyObjects(t, cp, true, objs); n != len(objs) {
			t.Errorf("%s: %d of %d objects applied", name, n, len(objs))
		}
		for _, o := range objs {
			kinds[o.GetKind()] = true
		}
		t.Logf("%s: %d objects accepted by the API server (dry run)", name, len(objs))
	}
	for _, k := range []string{"DaemonSet", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if !kinds[k] {
			t.Errorf("no values file renders a %s", k)
		}
	}
}

// waitForResources waits until the API server serves the resources of
// groupVersion (new CRDs take a moment to be established).
func waitForResources(t *testing.T, cp *testenv.ControlPlane, groupVersion string, resources ...string) {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := disc.ServerResourcesForGroupVersion(groupVersion)
		served := map[string]bool{}
		if err == nil {
			for _, r := range list.APIResources {
				served[r.Name] = true
			}
		}
		if !slices.ContainsFunc(resources, func(r string) bool { return !served[r] }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %v not served after 30s (%v)", groupVersion, resources, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChartArgsParse checks that the server accepts the command line of
// every rendering: each flag exists and the combination validates.
func TestChartArgsParse(t *testing.T) {
	helm := helmBin(t)
	for name, values := range chartCases(t) {
		t.Run(name, func(t *testing.T) {
			args := containerArgs(t, mustRenderChart(t, helm, values))
			env := map[string]string{"NODE_NAME": "node-a"}
			for _, e := range containerEnv(t, mustRenderChart(t, helm, values)) {
				if e == "BSS_STRATEGY_STATUS_LEASE_NAMESPACE" {
					env[e] = chartNamespace // the downward API's metadata.namespace
				}
			}
			cfg, err := config.Parse(args, func(k string) string { return env[k] }, new(bytes.Buffer))
			if err != nil {
				t.Errorf("the server refuses the chart's args %v: %v", args, err)
				return
			}
			if cfg.StrategySource == config.StrategySourceKubernetes && cfg.StatusLeaseNamespace != chartNamespace {
				t.Errorf("the status Lease is in namespace %q, want the release's %q, where the chart's Role grants leases", cfg.StatusLeaseNamespace, chartNamespace)
			}
		})
	}
}

// containerArgs is the server container's args in a rendering.
func containerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "DaemonSet" {
			return nestedStrings(o, "spec", "template", "spec", "containers", "0", "args")
		}
	}
	t.Fatal("no DaemonSet rendered")
	return nil
}

// containerEnv lists the names of the server container's environment
// variables in a rendering.
func containerEnv(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" {
			continue
		}
		env, _ := nestedField(o, "spec", "template", "spec", "containers", "0", "env").([]any)
		var names []string
		for _, e := range env {
			if m, ok := e.(map[string]any); ok {
				name, _ := m["name"].(string)
				names = append(names, name)
			}
		}
		return names
	}
	t.Fatal("no DaemonSet rendered")
	return nil
}

func clusterRoleRules(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	if o == nil {
		t.Fatal("no such ClusterRole")
	}
	var cr rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cr); err != nil {
		t.Fatal(err)
	}
	return cr.Rules
}

// nestedField walks maps by key and slices by decimal index; nil when
// the path does not exist.
func nestedField(o *unstructured.Unstructured, path ...string) any {
	if o == nil {
		return nil
	}
	var v any = o.Object
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func nestedStrings(o *unstructured.Unstructured, path ...string) []string {
	var out []string
	items, _ := nestedField(o, path...).([]any)
	for _, it := range items {
		s, _ := it.(string)
		out = append(out, s)
	}
	return out
}

// applyJSONPatch applies the add and replace operations of an RFC 6902
// patch (all k8s/process-events/patch.json uses) to obj in place.
func applyJSONPatch(t *testing.T, obj map[string]any, patch []byte) {
	t.Helper()
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			t.Fatalf("patch op %s: only add and replace are supported", op.Op)
		}
		// Decoded as the manifests are, so numbers have the same types.
		var value any
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(op.Value), 4096).Decode(&value); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
		parent := nestedField(&unstructured.Unstructured{Object: obj}, parts[:len(parts)-1]...)
		last := parts[len(parts)-1]
		switch p := parent.(type) {
		case map[string]any:
			if _, exists := p[last]; op.Op == "replace" && !exists {
				t.Fatalf("patch replaces %s, which does not exist", op.Path)
			}
			p[last] = value
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i >= len(p) || op.Op != "replace" {
				t.Fatalf("patch %s %s: only replacing an existing list item is supported", op.Op, op.Path)
			}
			p[i] = value
		default:
			t.Fatalf("patch path %s: no such parent", op.Path)
		}
	}
}
