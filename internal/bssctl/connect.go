package bssctl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/client"
)

// DefaultServer is the server when neither a flag, the environment nor a
// context names one: the node-local bss-api.
const DefaultServer = "http://127.0.0.1:8080"

// connFlags are the global flags that say which server to talk to and how.
type connFlags struct {
	server, token, tokenFile  string
	caFile, certFile, keyFile string
	context, config           string
	timeout                   time.Duration
	resolved                  settings // filled by resolve
}

// settings are the connection settings after flags, environment and the
// config file were merged.
type settings struct {
	server                    string
	token, tokenFile          string
	caFile, certFile, keyFile string
	// credentialSource says where the token came from, for error messages.
	credentialSource string
}

func (s settings) hasCredential() bool {
	return s.token != "" || s.tokenFile != "" || s.certFile != ""
}

func (f *connFlags) register(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVarP(&f.server, "server", "s", "", "bss-api server URL (env BSS_SERVER; default "+DefaultServer+")")
	pf.StringVar(&f.token, "token", "", "bearer token (env BSS_TOKEN)")
	pf.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token, re-read when refused (env BSS_TOKEN_FILE)")
	pf.StringVar(&f.caFile, "ca-file", "", "PEM CA certificates to verify an https server (env BSS_CA_FILE)")
	pf.StringVar(&f.certFile, "cert-file", "", "PEM client certificate for mTLS (env BSS_CERT_FILE)")
	pf.StringVar(&f.keyFile, "key-file", "", "PEM key of --cert-file (env BSS_KEY_FILE)")
	pf.StringVar(&f.context, "context", "", "context of the config file to use (env BSS_CONTEXT)")
	pf.StringVar(&f.config, "config", "", "config file (env BSSCTL_CONFIG; default ~/.config/bssctl/config)")
	pf.DurationVar(&f.timeout, "request-timeout", client.DefaultTimeout, "bound on each request")
}

// resolve merges flags, environment and config file, in that order of
// precedence, field by field; credentials are taken as a whole from the
// first level that gives any token, so a flag token is never sent with a
// context's token file.
func (f *connFlags) resolve(getenv func(string) string) error {
	cfgPath := configPath(f.config, getenv)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	ctxName := first(f.context, getenv("BSS_CONTEXT"), cfg.CurrentContext)
	var ctx namedContext
	if ctxName != "" {
		c := cfg.context(ctxName)
		if c == nil {
			return usagef("context %q is not in the config file %s; see bssctl config view", ctxName, cfgPath)
		}
		ctx = *c
		ctx.TokenFile = relativeTo(cfgPath, getenv("HOME"), ctx.TokenFile)
		ctx.CAFile = relativeTo(cfgPath, getenv("HOME"), ctx.CAFile)
		ctx.CertFile = relativeTo(cfgPath, getenv("HOME"), ctx.CertFile)
		ctx.KeyFile = relativeTo(cfgPath, getenv("HOME"), ctx.KeyFile)
	}
	s := settings{}
	s.server = first(f.server, getenv("BSS_SERVER"), ctx.Server, DefaultServer)
	if f.token != "" && f.tokenFile != "" {
		return usagef("--token and --token-file together: give one")
	}
	switch {
	case f.token != "" || f.tokenFile != "":
		s.token, s.tokenFile, s.credentialSource = f.token, f.tokenFile, tokenSource(f.token, "--token", "--token-file")
	case getenv("BSS_TOKEN") != "" || getenv("BSS_TOKEN_FILE") != "":
		if getenv("BSS_TOKEN") != "" && getenv("BSS_TOKEN_FILE") != "" {
			return usagef("BSS_TOKEN and BSS_TOKEN_FILE are both set: unset one")
		}
		s.token, s.tokenFile = getenv("BSS_TOKEN"), getenv("BSS_TOKEN_FILE")
		s.credentialSource = tokenSource(s.token, "BSS_TOKEN", "BSS_TOKEN_FILE")
	case ctx.Token != "" || ctx.TokenFile != "":
		s.token, s.tokenFile = ctx.Token, ctx.TokenFile
		s.credentialSource = tokenSource(s.token, fmt.Sprintf("context %q's token", ctxName), fmt.Sprintf("context %q's tokenFile", ctxName))
	}
	s.caFile = first(f.caFile, getenv("BSS_CA_FILE"), ctx.CAFile)
	s.certFile = first(f.certFile, getenv("BSS_CERT_FILE"), ctx.CertFile)
	s.keyFile = first(f.keyFile, getenv("BSS_KEY_FILE"), ctx.KeyFile)
	if (s.certFile == "") != (s.keyFile == "") {
		return usagef("a client certificate needs both --cert-file and --key-file (or BSS_CERT_FILE and BSS_KEY_FILE, or the context's certFile and keyFile)")
	}
	if s.credentialSource == "" && s.certFile != "" {
		s.credentialSource = "the client certificate"
	}
	f.resolved = s
	return nil
}

// newClient resolves the settings and returns a client for them.
func (a *app) newClient() (*client.Client, error) {
	if err := a.conn.resolve(a.io.Getenv); err != nil {
		return nil, err
	}
	s := a.conn.resolved
	opts := []client.Option{client.WithUserAgent("bssctl/" + versionString()), client.WithTimeout(a.conn.timeout)}
	switch {
	case s.token != "":
		opts = append(opts, client.WithBearerToken(s.token))
	case s.tokenFile != "":
		opts = append(opts, client.WithTokenFile(s.tokenFile))
	}
	if s.caFile != "" || s.certFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.caFile != "" {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				return nil, usagef("CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, usagef("CA file %s: no PEM certificate in it", s.caFile)
			}
			cfg.RootCAs = pool
		}
		if s.certFile != "" {
			cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
			if err != nil {
				return nil, usagef("client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, client.WithTLSConfig(cfg))
	}
	c, err := client.New(s.server, opts...)
	if err != nil {
		return nil, usagef("server %q: want http://HOST:PORT or https://HOST:PORT", s.server)
	}
	return c, nil
}

// relativeTo makes a path of the config file absolute, relative to the
// file's directory; "~/" is the home directory.
func relativeTo(cfgPath, home, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") && home != "" {
		return filepath.Join(home, p[2:])
	}
	return filepath.Join(filepath.Dir(cfgPath), p)
}

// first returns the first non-empty string.
func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// tokenSource names where a token came from, for error messages.
func tokenSource(token, tokenName, fileName string) string {
	if token != "" {
		return "the token of " + tokenName
	}
	return "the token in the file of " + fileName
}
