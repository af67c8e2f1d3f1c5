package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Security is the configuration of the trust boundary: credential
// methods, TLS, rate limits and the audit trail.
type Security struct {
	// AuthKubernetes checks bearer tokens with TokenReview and authorizes
	// their identities with SubjectAccessReview.
	AuthKubernetes bool
	// AuthTokenAudiences are the audiences TokenReview checks; empty: the
	// API server's own.
	AuthTokenAudiences []string
	AuthCacheTTL       time.Duration // how long an allowed review is reused
	AuthDeniedCacheTTL time.Duration // how long a denied or invalid one is
	TokenAuthFile      string        // static "token,role,name" lines

	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string // verify client certificates against these CAs

	// SchedulerPublicKeyFile enables POST /api/v1/auth/token: a request
	// presenting this public key gets a scheduler-role token.
	SchedulerPublicKeyFile string
	// SchedulerTokenKeyFile holds the key scheduler tokens are signed
	// with, for a fleet that shares it; empty: a key kept in the store.
	SchedulerTokenKeyFile string
	SchedulerTokenTTL     time.Duration

	// InsecureListenUnauthenticated allows a non-loopback listen address
	// with no credential method configured.
	InsecureListenUnauthenticated bool

	// Rate limits, per identity (or client address when anonymous).
	WriteRate  float64 // strategy writes per second
	WriteBurst int
	TokenRate  float64 // token requests per second, per client address
	TokenBurst int

	AuditRetention  time.Duration
	AuditMaxEntries int
}

// MinSchedulerTokenTTL is the shortest scheduler token lifetime allowed:
// the oldest clients assume 23 hours without asking.
const MinSchedulerTokenTTL = 24 * time.Hour

func defaultSecurity() Security {
	return Security{
		AuthCacheTTL:       time.Minute,
		AuthDeniedCacheTTL: 10 * time.Second,
		SchedulerTokenTTL:  MinSchedulerTokenTTL,
		WriteRate:          10,
		WriteBurst:         20,
		TokenRate:          1,
		TokenBurst:         5,
		AuditRetention:     30 * 24 * time.Hour,
		AuditMaxEntries:    100_000,
	}
}

func (s *Security) flags(fs *flag.FlagSet) {
	fs.BoolVar(&s.AuthKubernetes, "auth-kubernetes", s.AuthKubernetes, "check bearer tokens with the Kubernetes API server (TokenReview) and authorize them with RBAC (SubjectAccessReview)")
	fs.Func("auth-token-audiences", "comma-separated `audiences` TokenReview checks (default: the API server's)", func(v string) error {
		s.AuthTokenAudiences = splitList(v)
		return nil
	})
	fs.DurationVar(&s.AuthCacheTTL, "auth-cache-ttl", s.AuthCacheTTL, "how long an allowed token or access review is reused")
	fs.DurationVar(&s.AuthDeniedCacheTTL, "auth-denied-cache-ttl", s.AuthDeniedCacheTTL, "how long a denied access review or an invalid token is reused")
	fs.StringVar(&s.TokenAuthFile, "token-auth-file", s.TokenAuthFile, "`file` of static credentials, one token,role,name per line (role: scheduler, viewer or operator); re-read when it changes")
	fs.StringVar(&s.TLSCertFile, "tls-cert-file", s.TLSCertFile, "serve HTTPS with this certificate `file` (PEM); re-read when it changes")
	fs.StringVar(&s.TLSKeyFile, "tls-key-file", s.TLSKeyFile, "the private key `file` of --tls-cert-file")
	fs.StringVar(&s.TLSClientCAFile, "tls-client-ca-file", s.TLSClientCAFile, "verify client certificates against the CAs in this `file`; a verified certificate identifies its subject")
	fs.StringVar(&s.SchedulerPublicKeyFile, "scheduler-public-key-file", s.SchedulerPublicKeyFile, "enable POST /api/v1/auth/token for schedulers presenting the public key in this PEM `file`; their tokens carry the scheduler role only")
	fs.StringVar(&s.SchedulerTokenKeyFile, "scheduler-token-key-file", s.SchedulerTokenKeyFile, "`file` with the key scheduler tokens are signed with, shared by a fleet (default: a key kept in the store)")
	fs.DurationVar(&s.SchedulerTokenTTL, "scheduler-token-ttl", s.SchedulerTokenTTL, "how long a scheduler token is valid (at least 24h)")
	fs.BoolVar(&s.InsecureListenUnauthenticated, "insecure-listen-unauthenticated", s.InsecureListenUnauthenticated, "allow a non-loopback --listen with no credential method: anyone who reaches the port can change the node's scheduling")
	fs.Float64Var(&s.WriteRate, "write-rate", s.WriteRate, "strategy writes per second allowed per caller")
	fs.IntVar(&s.WriteBurst, "write-burst", s.WriteBurst, "strategy writes a caller may make at once")
	fs.Float64Var(&s.TokenRate, "token-rate", s.TokenRate, "token requests per second allowed per client address")
	fs.IntVar(&s.TokenBurst, "token-burst", s.TokenBurst, "token requests a client address may make at once")
	fs.DurationVar(&s.AuditRetention, "audit-retention", s.AuditRetention, "how long audit records are kept")
	fs.IntVar(&s.AuditMaxEntries, "audit-max-entries", s.AuditMaxEntries, "how many audit records are kept at most")
}

// HasCredentials reports whether any credential method is configured.
// Without one the server serves loopback only, and every caller there is
// the anonymous operator.
func (s Security) HasCredentials() bool {
	return s.AuthKubernetes || s.TokenAuthFile != "" || s.TLSClientCAFile != "" || s.SchedulerPublicKeyFile != ""
}

// TLS reports whether the server serves HTTPS.
func (s Security) TLS() bool { return s.TLSCertFile != "" }

func (s Security) validate(kubeMode string) error {
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together: give both, or neither")
	}
	if s.TLSClientCAFile != "" && !s.TLS() {
		return errors.New("--tls-client-ca-file needs TLS: give --tls-cert-file and --tls-key-file too")
	}
	if s.AuthKubernetes && (kubeMode == "mock" || kubeMode == "off") {
		return fmt.Errorf("--auth-kubernetes needs a Kubernetes API server, not --kube-mode=%s", kubeMode)
	}
	if s.SchedulerTokenKeyFile != "" && s.SchedulerPublicKeyFile == "" {
		return errors.New("--scheduler-token-key-file needs --scheduler-public-key-file")
	}
	if s.SchedulerTokenTTL < MinSchedulerTokenTTL {
		return fmt.Errorf("invalid --scheduler-token-ttl %s: must be at least %s (schedulers ask again only after the expiry they were told, or after 23h)", s.SchedulerTokenTTL, MinSchedulerTokenTTL)
	}
	if s.AuthCacheTTL <= 0 || s.AuthDeniedCacheTTL <= 0 || s.AuthCacheTTL > time.Hour || s.AuthDeniedCacheTTL > time.Hour {
		return fmt.Errorf("invalid --auth-cache-ttl %s / --auth-denied-cache-ttl %s: must be from 1ns to 1h", s.AuthCacheTTL, s.AuthDeniedCacheTTL)
	}
	if s.WriteRate <= 0 || s.WriteBurst < 1 || s.TokenRate <= 0 || s.TokenBurst < 1 {
		return errors.New("invalid --write-rate/--write-burst/--token-rate/--token-burst: rates must be positive, bursts at least 1")
	}
	if s.AuditRetention <= 0 || s.AuditMaxEntries < 1 {
		return fmt.Errorf("invalid --audit-retention %s / --audit-max-entries %d: must be positive", s.AuditRetention, s.AuditMaxEntries)
	}
	return nil
}

// defaultPort is where the server listens unless told otherwise.
const defaultPort = "8080"

// resolveListen settles Listen from --listen and --port (the original
// server's flag: a bare PORT keeps the default hosts, :PORT or HOST:PORT
// is an address).
func (c *Config) resolveListen(port string, listenInArgs bool) error {
	if port != "" {
		if _, err := strconv.Atoi(port); err != nil {
			if err := checkAddr(port); err != nil {
				return fmt.Errorf("invalid --port %q: %w", port, err)
			}
			if listenInArgs && (len(c.Listen) != 1 || c.Listen[0] != port) {
				return fmt.Errorf("--port %q and --listen %q disagree; give one of them", port, strings.Join(c.Listen, ","))
			}
			c.Listen = []string{port}
			return nil
		}
		if err := checkAddr(":" + port); err != nil {
			return fmt.Errorf("invalid --port %q: %w", port, err)
		}
	}
	if len(c.Listen) > 0 {
		if port != "" {
			for _, a := range c.Listen {
				if _, p, _ := net.SplitHostPort(a); p != port {
					return fmt.Errorf("--port %q and --listen %q disagree; give one of them", port, strings.Join(c.Listen, ","))
				}
			}
		}
		return nil
	}
	if port == "" {
		port = defaultPort
	}
	c.ListenDefaulted = true
	if c.HasCredentials() {
		c.Listen = []string{":" + port}
	} else {
		c.Listen = []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	}
	return nil
}

// validateListen checks every address, and that none is reachable from
// other hosts unless a credential method guards it.
func (c Config) validateListen() error {
	if len(c.Listen) == 0 {
		return errors.New("invalid --listen: give at least one HOST:PORT")
	}
	for _, a := range c.Listen {
		if err := checkAddr(a); err != nil {
			return fmt.Errorf("invalid --listen %q: %w", a, err)
		}
		if !c.HasCredentials() && !c.InsecureListenUnauthenticated && !IsLoopbackAddr(a) {
			return fmt.Errorf("refusing to listen on %s with no credential method: anyone who reaches it could change this node's CPU scheduling; "+
				"configure one (--token-auth-file, --auth-kubernetes, --tls-client-ca-file or --scheduler-public-key-file), "+
				"listen on loopback (--listen=127.0.0.1:%s), or accept the risk with --insecure-listen-unauthenticated", a, portOf(a))
		}
	}
	return nil
}

// IsLoopbackAddr reports whether HOST:PORT listens on loopback only:
// localhost, 127.0.0.0/8 or ::1. An empty host means every interface.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && IsLoopbackHost(host)
}

// IsLoopbackHost reports whether host names loopback: localhost (or a name
// under .localhost) or a loopback IP.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func checkAddr(s string) error {
	_, p, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("must be HOST:PORT, :PORT or PORT")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q must be a number from 0 to 65535", p)
	}
	return nil
}
