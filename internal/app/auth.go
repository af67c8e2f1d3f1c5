package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/httpapi"
	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/tlsfiles"
)

// tokenFileReload is how often the token file is checked for changes.
const tokenFileReload = 2 * time.Second

// newGuard builds the Guard from the configured credential methods, with
// the components that keep them fresh. It reads the credential files, so
// a bad one stops the server at start. schedTokens, when not nil, are
// tried first: they are recognised without any work. kc is the Kubernetes
// connection the pod informer uses; --auth-kubernetes reviews through it.
func newGuard(cfg config.Config, kc kubeConnection, reg prometheus.Registerer, log *slog.Logger, schedTokens *auth.SchedulerTokens) (*auth.Guard, []component, error) {
	var (
		opts       = auth.GuardOptions{Registry: reg}
		components []component
	)
	if schedTokens != nil {
		opts.Tokens = append(opts.Tokens, schedTokens)
	}
	// Static tokens come before Kubernetes: they are checked locally, and
	// the API server never sees them.
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
	opts.Certificates = certificateAuthenticator(opts, cfg) // TLS client certificates, below
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
		TokenReviews:   kc.client.TokenReviews(),
		AccessReviews:  kc.client.AccessReviews(),
		Audiences:      cfg.AuthTokenAudiences,
		Node:           cfg.NodeName,
		CacheTTL:       cfg.AuthCacheTTL,
		DeniedCacheTTL: cfg.AuthDeniedCacheTTL,
		Registry:       reg,
	}), nil
}

// --- Scheduler tokens (POST /api/v1/auth/token) ---------------------------

// schedulerKeySecret names the scheduler token signing key in the store.
const schedulerKeySecret = "scheduler-token-signing-key"

// newSchedulerTokens reads --scheduler-public-key-file and, for a fleet,
// --scheduler-token-key-file. It returns nil when the token endpoint is
// not enabled. Without a key file the tokens have no signing key until
// useStoredSigningKey gives them the store's.
func newSchedulerTokens(cfg config.Config, now func() time.Time, log *slog.Logger) (*auth.SchedulerTokens, error) {
	if cfg.SchedulerPublicKeyFile == "" {
		return nil, nil
	}
	pub, err := auth.ReadSchedulerPublicKey(cfg.SchedulerPublicKeyFile)
	if err != nil {
		return nil, err
	}
	opts := auth.SchedulerTokenOptions{PublicKey: pub, TTL: cfg.SchedulerTokenTTL, Now: now, Logger: log.With("component", "auth")}
	signingKey := "kept in the store"
	if cfg.SchedulerTokenKeyFile != "" {
		if opts.SigningKey, err = auth.ReadSigningKey(cfg.SchedulerTokenKeyFile); err != nil {
			return nil, err
		}
		signingKey = cfg.SchedulerTokenKeyFile
	}
	tokens, err := auth.NewSchedulerTokens(opts)
	if err != nil {
		return nil, err
	}
	log.Info("scheduler tokens: POST /api/v1/auth/token issues scheduler-role tokens to the holder of the public key",
		"public_key", cfg.SchedulerPublicKeyFile, "fingerprint", tokens.Fingerprint(), "ttl", cfg.SchedulerTokenTTL, "signing_key", signingKey)
	if !cfg.AuthKubernetes && cfg.TokenAuthFile == "" && cfg.TLSClientCAFile == "" {
		log.Warn("scheduler tokens are the only credential method: nobody can read strategy definitions or change strategies; " +
			"give operators credentials with --token-auth-file or --auth-kubernetes")
	}
	return tokens, nil
}

// useStoredSigningKey gives tokens the signing key kept in st (made on
// first use) when no key file was given, so tokens outlive a restart and
// every node on a shared PostgreSQL signs with the same key.
func useStoredSigningKey(ctx context.Context, cfg config.Config, tokens *auth.SchedulerTokens, st store.Backend, log *slog.Logger) error {
	if tokens == nil || cfg.SchedulerTokenKeyFile != "" {
		return nil
	}
	key, err := st.Secret(ctx, schedulerKeySecret, auth.NewSigningKey)
	if err != nil {
		return fmt.Errorf("scheduler token signing key: %w", err)
	}
	if kind, _, _ := cfg.StoreKind(); kind == store.Memory {
		log.Warn("scheduler tokens do not survive a restart with --store=memory: the signing key is lost, " +
			"and schedulers, which ask again only after the expiry they were told, are refused until then; " +
			"use a durable store or --scheduler-token-key-file")
	}
	return tokens.SetSigningKey(key)
}

// tokenIssuer is tokens for the HTTP layer: nil (the endpoint is not
// enabled) when there are none, never a nil pointer in an interface.
func tokenIssuer(tokens *auth.SchedulerTokens) httpapi.TokenIssuer {
	if tokens == nil {
		return nil
	}
	return tokens
}

// --- TLS serving, client certificates, browser protections ---------------

// newTLS loads the TLS files when the server serves HTTPS (nil when it
// does not). A pair or CA file that does not load stops the server at
// start; later changes are picked up by handshakes (tlsfiles).
func newTLS(cfg config.Config, log *slog.Logger) (*tlsfiles.Server, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	s, err := tlsfiles.Load(tlsfiles.Options{
		CertFile:     cfg.TLSCertFile,
		KeyFile:      cfg.TLSKeyFile,
		ClientCAFile: cfg.TLSClientCAFile,
		Logger:       log.With("component", "tls"),
	})
	if err != nil {
		return nil, err
	}
	leaf := s.Leaf()
	log.Info("serving HTTPS (TLS 1.2 or later)", "cert", cfg.TLSCertFile, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter, "client_ca", cfg.TLSClientCAFile)
	return s, nil
}

// certificateAuthenticator is who vouches for verified client
// certificates' roles: the token file when there is one (its lines with an
// empty token give subjects roles), else nobody, and the identity carries
// no role (only an Authorizer, SubjectAccessReview, can then allow it).
func certificateAuthenticator(opts auth.GuardOptions, cfg config.Config) auth.CertificateAuthenticator {
	if cfg.TLSClientCAFile == "" || opts.Certificates != nil {
		return opts.Certificates
	}
	return subjectsOnly{}
}

// subjectsOnly identifies a certificate by its subject, with no role.
type subjectsOnly struct{}

func (subjectsOnly) AuthenticateCertificate(_ context.Context, chain []*x509.Certificate) (auth.Identity, bool, error) {
	return auth.CertificateIdentity(chain, nil), true, nil
}

// allowHost is the Host check against DNS rebinding of a server without
// credentials (nil, no check, with credentials): a rebinding page's
// requests carry its DNS name. Loopback names and addresses pass; so does
// any IP address when --insecure-listen-unauthenticated opened the server
// to the network, since clients there reach it by address, and an address
// is never a rebound name.
func allowHost(cfg config.Config) func(host string) bool {
	switch {
	case cfg.HasCredentials():
		return nil
	case cfg.InsecureListenUnauthenticated:
		return func(host string) bool { return config.IsLoopbackHost(host) || net.ParseIP(host) != nil }
	}
	return config.IsLoopbackHost
}
