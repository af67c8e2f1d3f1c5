// Package crdtest installs the strategy CRDs (charts/bss-api/crds) on a
// test API server, for the tests of every package that needs them.
package crdtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// Files returns the CRD files of the chart.
func Files(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "charts", "bss-api", "crds", "*.yaml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("want the two CRD files under charts/bss-api/crds, got %v (%v)", files, err)
	}
	return files
}

// Read decodes the first object of a YAML file.
func Read(t testing.TB, file string) *unstructured.Unstructured {
	t.Helper()
	return ReadAll(t, file)[0]
}

// ReadAll decodes every object of a YAML file; it fails the test when
// there is none.
func ReadAll(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
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
	if len(objs) == 0 {
		t.Fatalf("%s: no object", file)
	}
	return objs
}

// crdResource is apiextensions.k8s.io/v1 customresourcedefinitions.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Install creates both CRDs on the API server of cfg, waits until objects
// of both kinds can be listed, and returns a dynamic client on cfg.
func Install(t testing.TB, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, f := range Files(t) {
		if _, err := dyn.Resource(crdResource).Create(ctx, Read(t, f), metav1.CreateOptions{}); err != nil {
			t.Fatalf("install %s: %v", filepath.Base(f), err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, res := range []schema.GroupVersionResource{v1alpha1.Namespaced, v1alpha1.Cluster} {
		for {
			_, err := dyn.Resource(res).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not served: %v", res.Resource, err)
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return dyn
}
