package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// manifestObjects reads every object of every YAML file under k8s/.
func manifestObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under k8s/: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decodeObjects(t, file, b)...)
	}
	return objs
}

// decodeObjects reads every object of a multi-document YAML stream; name
// names the stream in errors.
func decodeObjects(t *testing.T, name string, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s: %v", name, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, &u)
		}
	}
	return objs
}

// applyManifests server-side-applies the manifest objects of the given
// kinds (all when none), for real or as a dry run, and fails the test on
// any rejection.
func applyManifests(t *testing.T, cp *testenv.ControlPlane, dryRun bool, kinds ...string) int {
	t.Helper()
	return applyObjects(t, cp, dryRun, manifestObjects(t), kinds...)
}

// applyObjects server-side-applies those of objs of the given kinds (all
// when none), for real or as a dry run, and fails the test on any
// rejection. It returns how many it applied.
func applyObjects(t *testing.T, cp *testenv.ControlPlane, dryRun bool, objs []*unstructured.Unstructured, kinds ...string) int {
	t.Helper()
	cfg := cp.Config()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	// Strict: a field no schema declares is an error, not dropped.
	opts := metav1.PatchOptions{FieldManager: "bss-api-tests", Force: ptrTrue(), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	n := 0
	for _, obj := range objs {
		if len(kinds) > 0 && !slices.Contains(kinds, obj.GetKind()) {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk, obj.GetName(), err)
		}
		body, err := obj.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if ns := obj.GetNamespace(); ns != "" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
			t.Errorf("the API server rejects %s %s/%s (dry run %v): %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), dryRun, err)
		}
		n++
	}
	return n
}

func ptrTrue() *bool { b := true; return &b }

// testManifestsDryRun checks that the API server accepts every manifest.
// The namespace must exist for namespaced objects to be dry-run.
func testManifestsDryRun(t *testing.T, cp *testenv.ControlPlane) {
	applyManifests(t, cp, false, "Namespace")
	n := applyManifests(t, cp, true)
	kinds := map[string]bool{}
	for _, o := range manifestObjects(t) {
		kinds[o.GetKind()] = true
	}
	for _, k := range []string{"DaemonSet", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		if !kinds[k] {
			t.Errorf("k8s/ has no %s", k)
		}
	}
	t.Logf("%d manifest objects accepted by the API server (dry run)", n)
	testProcessEventsPatch(t, cp)
}

// testProcessEventsPatch applies k8s/process-events/patch.json, the
// opt-in grant of the netlink process connector, to the DaemonSet as
// kubectl patch --type=json would (a dry run), and checks the API server
// accepts it and that the result grants the connector what it needs and
// nothing else: the host's network namespace, user 0, NET_ADMIN added to
// a container that still drops every other capability.
func testProcessEventsPatch(t *testing.T, cp *testenv.ControlPlane) {
	applyManifests(t, cp, false, "DaemonSet")
	patch, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "k8s", "process-events", "patch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ds *unstructured.Unstructured
	for _, o := range manifestObjects(t) {
		if o.GetKind() == "DaemonSet" {
			ds = o
		}
	}
	dyn, err := dynamic.NewForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	res := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	got, err := dyn.Resource(res).Namespace(ds.GetNamespace()).Patch(context.Background(), ds.GetName(), types.JSONPatchType, patch,
		metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("the API server rejects k8s/process-events/patch.json: %v", err)
	}
	spec := []string{"spec", "template", "spec"}
	field := func(path ...string) string {
		v, _, _ := unstructured.NestedFieldNoCopy(got.Object, append(slices.Clone(spec), path...)...)
		return toJSON(v)
	}
	for _, c := range []struct{ what, got, want string }{
		{"hostNetwork", field("hostNetwork"), "true"},
		{"hostPID", field("hostPID"), "true"},
		{"dnsPolicy", field("dnsPolicy"), `"ClusterFirstWithHostNet"`},
		{"runAsUser", field("securityContext", "runAsUser"), "0"},
		{"runAsNonRoot", field("securityContext", "runAsNonRoot"), "false"},
	} {
		if c.got != c.want {
			t.Errorf("patched DaemonSet: %s = %s, want %s", c.what, c.got, c.want)
		}
	}
	containers, _, _ := unstructured.NestedSlice(got.Object, append(spec, "containers")...)
	if len(containers) != 1 {
		t.Fatalf("patched DaemonSet: %d containers, want 1", len(containers))
	}
	caps, _, _ := unstructured.NestedMap(containers[0].(map[string]any), "securityContext", "capabilities")
	if toJSON(caps["add"]) != `["NET_ADMIN"]` || toJSON(caps["drop"]) != `["ALL"]` {
		t.Errorf("patched container capabilities = %s, want NET_ADMIN added and ALL dropped", toJSON(caps))
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestManifestRolesMatchRoleTable checks that the ClusterRoles shipped for
// callers grant exactly what the role table gives each role: a permission
// the table adds or drops must reach k8s/ too.
func TestManifestRolesMatchRoleTable(t *testing.T) {
	checkRoleTable(t, "k8s/", "bss-api-", manifestObjects(t))
}

// checkRoleTable checks that the ClusterRoles among objs (from where)
// named prefix+role grant exactly what the role table gives each role,
// and that no other ClusterRole has the prefix.
func checkRoleTable(t *testing.T, where, prefix string, objs []*unstructured.Unstructured) {
	t.Helper()
	roles := map[string]rbacv1.ClusterRole{}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" || !strings.HasPrefix(o.GetName(), prefix) {
			continue
		}
		var cr rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cr); err != nil {
			t.Fatalf("ClusterRole %s: %v", o.GetName(), err)
		}
		roles[cr.Name] = cr
	}
	for _, role := range auth.Roles() {
		name := prefix + string(role)
		want := map[auth.Permission]bool{}
		for _, p := range auth.RolePermissions(role) {
			want[p] = true
		}
		cr, ok := roles[name]
		delete(roles, name)
		got, err := rulePermissions(cr.Rules)
		if !ok || err != nil || !maps.Equal(got, want) {
			expected, _ := yaml.Marshal(map[string]any{"rules": expectedRules(role)})
			t.Errorf("ClusterRole %s (in %s: %v) grants %v (%v), the role table %v; its rules should be:\n%s",
				name, where, ok, permissionList(got), err, permissionList(want), expected)
		}
	}
	for name := range roles {
		t.Errorf("ClusterRole %s is for no role of the role table", name)
	}
}

// rulePermissions expands RBAC rules into the permissions they grant. A
// rule outside the API group, with resource names or with wildcards
// grants something the role table cannot, and is an error.
func rulePermissions(rules []rbacv1.PolicyRule) (map[auth.Permission]bool, error) {
	got := map[auth.Permission]bool{}
	for _, r := range rules {
		if len(r.ResourceNames) > 0 {
			return nil, fmt.Errorf("rule %v names resources; the roles hold for every node", r)
		}
		if len(r.NonResourceURLs) > 0 {
			if len(r.APIGroups)+len(r.Resources) > 0 {
				return nil, fmt.Errorf("rule %v mixes URLs and resources", r)
			}
			for _, u := range r.NonResourceURLs {
				for _, v := range r.Verbs {
					got[auth.Permission{Verb: v, Path: u}] = true
				}
			}
			continue
		}
		if !slices.Equal(r.APIGroups, []string{auth.Group}) {
			return nil, fmt.Errorf("rule %v is not for the API group %s alone", r, auth.Group)
		}
		for _, res := range r.Resources {
			resource, sub, _ := strings.Cut(res, "/")
			for _, v := range r.Verbs {
				got[auth.Permission{Verb: v, Resource: resource, Subresource: sub}] = true
			}
		}
	}
	return got, nil
}

// expectedRules is a role's permissions as RBAC rules: one rule per verb
// for resources, one per verb for URLs.
func expectedRules(role auth.Role) []rbacv1.PolicyRule {
	resources, urls := map[string][]string{}, map[string][]string{}
	for _, p := range auth.RolePermissions(role) {
		switch {
		case p.Path != "":
			urls[p.Verb] = append(urls[p.Verb], p.Path)
		case p.Subresource != "":
			resources[p.Verb] = append(resources[p.Verb], p.Resource+"/"+p.Subresource)
		default:
			resources[p.Verb] = append(resources[p.Verb], p.Resource)
		}
	}
	var rules []rbacv1.PolicyRule
	for _, v := range slices.Sorted(maps.Keys(resources)) {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{auth.Group}, Resources: slices.Sorted(slices.Values(resources[v])), Verbs: []string{v}})
	}
	for _, v := range slices.Sorted(maps.Keys(urls)) {
		rules = append(rules, rbacv1.PolicyRule{NonResourceURLs: slices.Sorted(slices.Values(urls[v])), Verbs: []string{v}})
	}
	return rules
}

func permissionList(set map[auth.Permission]bool) []string {
	var out []string
	for p := range set {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}
