package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one bss-api server. It is safe for concurrent use; make one
// per server and keep it.
type Client struct {
	base      *url.URL // scheme and host, and a path prefix if any, without a trailing slash
	hc        *http.Client
	tokens    TokenSource // nil: no Authorization header
	retry     RetryPolicy
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// DefaultTimeout bounds each attempt of a request, except that a blocking
// query may also be held for its wait.
const DefaultTimeout = 30 * time.Second

// Option configures a Client.
type Option func(*settings) error

// settings collects the options before New builds the Client.
type settings struct {
	hc        *http.Client
	tlsConfig *tls.Config
	tokens    TokenSource
	schedKey  []byte
	retry     RetryPolicy
	timeout   time.Duration
	userAgent string
	now       func() time.Time
}

// WithHTTPClient makes requests with hc instead of a client of New's own.
// hc's Timeout, if any, also bounds blocking queries, so leave it zero
// when you watch. It cannot be combined with WithTLSConfig: configure TLS
// in hc's transport then.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		s.hc = hc
		return nil
	}
}

// WithTLSConfig makes requests over TLS with cfg: the CA that signed the
// server's certificate (RootCAs) and, for mTLS, the client certificate
// (Certificates or GetClientCertificate). The server maps the
// certificate's subject to a role (--tls-client-ca-file).
func WithTLSConfig(cfg *tls.Config) Option {
	return func(s *settings) error {
		if cfg == nil {
			return errors.New("WithTLSConfig: nil config")
		}
		s.tlsConfig = cfg
		return nil
	}
}

// WithBearerToken sends token as "Authorization: Bearer <token>" on every
// request: a static token of --token-auth-file, for example.
func WithBearerToken(token string) Option {
	return WithTokenSource(StaticToken(token))
}

// WithTokenFile sends the token read from the file at path, re-read every
// minute and whenever the server refuses it: a Kubernetes ServiceAccount
// token (projected volumes are rotated in place), checked by the server
// with a TokenReview.
func WithTokenFile(path string) Option {
	return WithTokenSource(FileToken(path))
}

// WithTokenSource sends the tokens ts gives.
func WithTokenSource(ts TokenSource) Option {
	return func(s *settings) error {
		if ts == nil {
			return errors.New("WithTokenSource: nil source")
		}
		s.tokens = ts
		return nil
	}
}

// WithSchedulerKey uses the scheduler token protocol: the client presents
// publicKeyPEM (a PKIX public key in PEM, the one the server was started
// with as --scheduler-public-key-file) to POST /api/v1/auth/token, sends
// the token it gets, and asks for a new one before the expiry the server
// gave, or at once if the server refuses it (after a restart with another
// signing key, say). The token grants the scheduler role only.
func WithSchedulerKey(publicKeyPEM []byte) Option {
	return func(s *settings) error {
		if len(publicKeyPEM) == 0 {
			return errors.New("WithSchedulerKey: empty key")
		}
		s.schedKey = publicKeyPEM
		return nil
	}
}

// WithRetry replaces DefaultRetry (see RetryPolicy for what is retried).
func WithRetry(p RetryPolicy) Option {
	return func(s *settings) error {
		if p.MaxAttempts < 1 || p.BaseDelay < 0 || p.MaxDelay < p.BaseDelay {
			return fmt.Errorf("WithRetry: want MaxAttempts >= 1 and 0 <= BaseDelay <= MaxDelay, got %+v", p)
		}
		s.retry = p
		return nil
	}
}

// WithTimeout bounds each attempt of a request (default DefaultTimeout).
// A blocking query's attempt may also last its wait and the server's
// jitter (a sixteenth of the wait).
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("WithTimeout: want a positive duration, got %s", d)
		}
		s.timeout = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default "bss-api-go-client").
func WithUserAgent(ua string) Option {
	return func(s *settings) error {
		s.userAgent = ua
		return nil
	}
}

// New returns a client for the server at baseURL, such as
// "http://127.0.0.1:8080" (the scheduler's node-local default) or
// "https://bss-api.example:8443". New does no I/O.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("bss-api client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bss-api client: base URL %q: want http://host:port or https://host:port", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bss-api client: base URL %q: must have no query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	s := settings{retry: DefaultRetry(), timeout: DefaultTimeout, userAgent: "bss-api-go-client", now: time.Now}
	for _, opt := range opts {
		if err := opt(&s); err != nil {
			return nil, fmt.Errorf("bss-api client: %w", err)
		}
	}
	hc := s.hc
	switch {
	case hc != nil && s.tlsConfig != nil:
		return nil, errors.New("bss-api client: WithTLSConfig and WithHTTPClient together: set the TLS config in the HTTP client's transport")
	case hc == nil:
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if s.tlsConfig != nil {
			tr.TLSClientConfig = s.tlsConfig.Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	c := &Client{base: u, hc: hc, tokens: s.tokens, retry: s.retry, timeout: s.timeout, userAgent: s.userAgent, now: s.now}
	if s.schedKey != nil {
		if s.tokens != nil {
			return nil, errors.New("bss-api client: WithSchedulerKey and another token option together: choose one credential")
		}
		c.tokens = &schedulerTokens{issue: c.IssueToken, publicKeyPEM: string(s.schedKey), now: s.now}
	}
	return c, nil
}

// BaseURL returns the server's URL as given to New, without a trailing
// slash.
func (c *Client) BaseURL() string { return c.base.String() }
