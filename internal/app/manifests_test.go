package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

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
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", file, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, &u)
			}
		}
	}
	return objs
}

// applyManifests server-side-applies the manifest objects of the given
// kinds (all when none), for real or as a dry run, and fails the test on
// any rejection.
func applyManifests(t *testing.T, cp *testenv.ControlPlane, dryRun bool, kinds ...string) int {
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
	opts := metav1.PatchOptions{FieldManager: "bss-api-tests", Force: ptrTrue()}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	n := 0
	for _, obj := range manifestObjects(t) {
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
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
