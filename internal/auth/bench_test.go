package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// BenchmarkKubernetesCacheHit measures what a request with a warm review
// cache costs: a ServiceAccount token of the usual size (about 1 KB) is
// hashed and found, and its permission is found.
//
//	go test -run '^$' -bench KubernetesCacheHit -benchmem ./internal/auth
func BenchmarkKubernetesCacheHit(b *testing.B) {
	ctx := context.Background()
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ." + strings.Repeat("x", 900) + "." + strings.Repeat("s", 342)
	api := newFakeAPIServer()
	api.users[token] = authenticationv1.UserInfo{
		Username: "system:serviceaccount:bss-system:scheduler", UID: "0b8e6c5e-1d7f-4a8e-9c1e-2f3a4b5c6d7e",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:bss-system", "system:authenticated"},
		Extra: map[string]authenticationv1.ExtraValue{
			"authentication.kubernetes.io/credential-id": {"JTI=5f0c8a3e-9b1d-4c2e-8f7a-6b5c4d3e2f1a"},
			"authentication.kubernetes.io/node-name":     {"node-1"},
			"authentication.kubernetes.io/pod-name":      {"scheduler-abcde"},
			"authentication.kubernetes.io/pod-uid":       {"7c6b5a49-3827-1605-f4e3-d2c1b0a99887"},
		},
	}
	api.allowed[api.users[token].Username+" "+PostMetrics.String()] = true
	k := NewKubernetes(KubernetesOptions{
		TokenReviews: fakeTokenReviews{api}, AccessReviews: fakeAccessReviews{api},
		Node: "node-1", CacheTTL: time.Hour, DeniedCacheTTL: time.Hour,
	})
	id, ok, err := k.AuthenticateToken(ctx, token)
	if !ok || err != nil {
		b.Fatal(ok, err)
	}
	if allowed, err := k.Authorize(ctx, id, PostMetrics); !allowed || err != nil {
		b.Fatal(allowed, err)
	}

	b.Run("token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, _ := k.AuthenticateToken(ctx, token); !ok {
				b.Fatal("not authenticated")
			}
		}
	})
	b.Run("access", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := k.Authorize(ctx, id, PostMetrics); !ok {
				b.Fatal("not allowed")
			}
		}
	})
	b.Run("guard", func(b *testing.B) {
		g := NewGuard(GuardOptions{Tokens: []TokenAuthenticator{k}, Authorizer: k})
		r := httptest.NewRequest(http.MethodPost, "/api/v1/metrics", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		rule := Require(PostMetrics)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := g.Check(r, rule); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	if tokens, access := api.counts(); tokens != 1 || access != 1 {
		b.Errorf("%d token and %d access reviews, want 1 each: the benchmark missed the cache", tokens, access)
	}
}
