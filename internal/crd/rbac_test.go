package crd

import (
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bss-api/bss-api/internal/crd/crdtest"
	"github.com/bss-api/bss-api/internal/crd/v1alpha1"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestRBACIsEnough runs the source, the elector and the status writer as
// a ServiceAccount granted testdata/rbac.yaml only (the RBAC docs/crd.md
// gives): it lists, holds the Lease and writes status, and can do
// nothing the rules do not grant.
func TestRBACIsEnough(t *testing.T) {
	cp := testenv.StartControlPlane(t)
	admin := crdtest.Install(t, cp.Config())
	createNamespace(t, cp, "bss-system")
	rbac := map[string]schema.GroupVersionResource{}
	for _, r := range []string{"clusterroles", "clusterrolebindings", "roles", "rolebindings"} {
		rbac[r] = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: r}
	}
	for _, u := range crdtest.ReadAll(t, filepath.Join("testdata", "rbac.yaml")) {
		res := map[string]string{"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings"}[u.GetKind()]
		var ri dynamic.ResourceInterface = admin.Resource(rbac[res])
		if u.GetNamespace() != "" {
			ri = admin.Resource(rbac[res]).Namespace(u.GetNamespace())
		}
		if _, err := ri.Create(t.Context(), u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	cfg := cp.Config()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:bss-system:bss-api"}
	sa, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	startStatusServerIn(t, sa, "bss-system", "node-a")
	if _, err := admin.Resource(v1alpha1.Cluster).Create(t.Context(), obj(v1alpha1.KindCluster, "good", map[string]any{"executionTime": int64(1000), "commandRegex": "x"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAccepted(t, admin, "good", metav1.ConditionTrue)
	if h := leaseHolderIn(t, admin, "bss-system"); h != "node-a" {
		t.Errorf("lease holder %q", h)
	}

	// And no more: no spec writes, no Lease elsewhere.
	u, err := sa.Resource(v1alpha1.Cluster).Get(t.Context(), "good", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Resource(v1alpha1.Cluster).Update(t.Context(), u, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("spec update as the server: %v, want forbidden", err)
	}
	if _, err := sa.Resource(leases).Namespace("default").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("leases of another namespace: %v, want forbidden", err)
	}
}
