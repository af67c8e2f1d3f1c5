package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/config"
)

// tokenFileReload is how often the token file is checked for changes.
const tokenFileReload = 2 * time.Second

// newGuard builds the Guard from the configured credential methods, with
// the components that keep them fresh. It reads the credential files, so
// a bad one stops the server at start. kc is the Kubernetes connection
// the pod informer uses; --auth-kubernetes reviews through it.
func newGuard(cfg config.Config, kc kubeConnection, reg prometheus.Registerer, log *slog.Logger) (*auth.Guard, []component, error) {
	var (
		opts       = auth.GuardOptions{Registry: reg}
		components []component
	)
	// Static tokens come first: they are checked locally, and the API
	// server never sees them.
	if cfg.TokenAuthFile != "" {
		tf, err := auth.LoadTokenFile(cfg.TokenAuthFile, log.With("component", "auth"))
		if err != nil {
			return nil, nil, err
		}
		opts.Tokens = append(opts.Tokens, tf)
		opts.Certificates = tf
		components = append(components, component{"token file", func(ctx context.Context) error {
			return tf.Run(ctx, tokenFileReload)
		}})
		log.Info("static tokens", "file", cfg.TokenAuthFile, "entries", tf.Len())
	}

	// Kubernetes: TokenReview for bearer tokens no other method accepts,
	// SubjectAccessReview for every identity that carries no role
	// (Kubernetes users and ServiceAccounts, client certificates the token
	// file does not name).
	if cfg.AuthKubernetes {
		k, err := newKubernetesAuth(cfg, kc, reg)
		if err != nil {
			return nil, nil, err
		}
		opts.Tokens = append(opts.Tokens, k)
		opts.Authorizer = k
		log.Info("Kubernetes authentication and authorization (TokenReview, SubjectAccessReview)",
			"audiences", cfg.AuthTokenAudiences, "cache_ttl", cfg.AuthCacheTTL, "denied_cache_ttl", cfg.AuthDeniedCacheTTL)
	}
	return auth.NewGuard(opts), components, nil
}

// newKubernetesAuth builds the TokenReview and SubjectAccessReview checks
// on kc's client.
func newKubernetesAuth(cfg config.Config, kc kubeConnection, reg prometheus.Registerer) (*auth.Kubernetes, error) {
	if kc.client == nil {
		return nil, fmt.Errorf("--auth-kubernetes needs a Kubernetes API server, but the Kubernetes mode is %s; "+
			"use --kube-mode=in-cluster or --kube-mode=kubeconfig", kc.mode)
	}
	return auth.NewKubernetes(auth.KubernetesOptions{
		TokenReviews:   kc.client.AuthenticationV1().TokenReviews(),
		AccessReviews:  kc.client.AuthorizationV1().SubjectAccessReviews(),
		Audiences:      cfg.AuthTokenAudiences,
		Node:           cfg.NodeName,
		CacheTTL:       cfg.AuthCacheTTL,
		DeniedCacheTTL: cfg.AuthDeniedCacheTTL,
		Registry:       reg,
	}), nil
}
