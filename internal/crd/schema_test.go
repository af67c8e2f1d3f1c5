package crd

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
)

// jsonFields lists the JSON names of t's fields, inlined structs
// flattened.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if strings.Contains(opts, "inline") {
			names = append(names, jsonFields(f.Type)...)
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// schemaFields lists the property names of the object schema at path
// under the CRD's openAPIV3Schema.
func schemaFields(t *testing.T, crd *unstructured.Unstructured, path ...string) []string {
	t.Helper()
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("%s: want one version, got %d", crd.GetName(), len(versions))
	}
	full := []string{"schema", "openAPIV3Schema"}
	for _, p := range path {
		full = append(full, "properties", p)
	}
	props, ok, err := unstructured.NestedMap(versions[0].(map[string]any), append(full, "properties")...)
	if !ok || err != nil {
		t.Fatalf("%s: no properties at %v (%v)", crd.GetName(), path, err)
	}
	var names []string
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TestSchemaMatchesGoTypes holds the CRD files and the Go types to the
// same field names, so what the API server accepts is what the server
// decodes.
func TestSchemaMatchesGoTypes(t *testing.T) {
	byKind := map[string]*unstructured.Unstructured{}
	for _, f := range crdtest.Files(t) {
		u := crdtest.Read(t, f)
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		byKind[kind] = u
	}
	for _, tc := range []struct {
		kind         string
		spec, status reflect.Type
	}{
		{v1alpha1.KindNamespaced, reflect.TypeFor[v1alpha1.StrategySpec](), reflect.TypeFor[v1alpha1.StrategyStatus]()},
		{v1alpha1.KindCluster, reflect.TypeFor[v1alpha1.ClusterStrategySpec](), reflect.TypeFor[v1alpha1.StrategyStatus]()},
	} {
		crd := byKind[tc.kind]
		if crd == nil {
			t.Fatalf("no CRD of kind %s", tc.kind)
		}
		if got, want := crd.GetName(), map[string]string{
			v1alpha1.KindNamespaced: v1alpha1.Namespaced.Resource, v1alpha1.KindCluster: v1alpha1.Cluster.Resource,
		}[tc.kind]+"."+v1alpha1.Group; got != want {
			t.Errorf("%s: CRD name %q, want %q", tc.kind, got, want)
		}
		if got, want := schemaFields(t, crd, "spec"), jsonFields(tc.spec); !slices.Equal(got, want) {
			t.Errorf("%s spec: schema fields %v, Go fields %v", tc.kind, got, want)
		}
		if got, want := schemaFields(t, crd, "status"), jsonFields(tc.status); !slices.Equal(got, want) {
			t.Errorf("%s status: schema fields %v, Go fields %v", tc.kind, got, want)
		}
		assertDescribed(t, tc.kind, crd.Object["spec"])
	}
}

// assertDescribed checks that every property under v, at any depth, has
// a description, so kubectl explain documents it. metadata and the
// printer columns are Kubernetes' own.
func assertDescribed(t *testing.T, where string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			for name, p := range props {
				pm, _ := p.(map[string]any)
				if _, ok := pm["description"]; !ok && name != "metadata" {
					t.Errorf("%s.%s: no description", where, name)
				}
				assertDescribed(t, where+"."+name, p)
			}
		}
		for k, c := range v {
			if k != "properties" {
				assertDescribed(t, where, c)
			}
		}
	case []any:
		for _, c := range v {
			assertDescribed(t, where, c)
		}
	}
}
