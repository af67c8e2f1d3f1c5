package crd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestDocsRBACMatchesTested holds the RBAC docs/crd.md shows to the one
// TestRBACIsEnough runs with.
func TestDocsRBACMatchesTested(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "crd.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## RBAC the server needs in this mode")
	if !ok {
		t.Fatal("docs/crd.md has no RBAC section")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	rules := map[string]any{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(block)), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		rules[u.GetKind()] = u.Object["rules"]
	}
	for _, u := range crdtest.ReadAll(t, filepath.Join("testdata", "rbac.yaml")) {
		if r, ok := u.Object["rules"]; ok && !reflect.DeepEqual(rules[u.GetKind()], r) {
			t.Errorf("%s rules: docs/crd.md %v, tested %v", u.GetKind(), rules[u.GetKind()], r)
		}
	}
}
