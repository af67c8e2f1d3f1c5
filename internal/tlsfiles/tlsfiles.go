// Package tlsfiles serves TLS from certificate files that are replaced
// while the server runs, as cert-manager or a rotated Kubernetes Secret
// replace them: a handshake uses what the files held when they were last
// checked, and they are checked at most once a second, by a handshake, so
// no goroutine polls them.
package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options say where the files are.
type Options struct {
	CertFile string // the server's certificate chain, PEM
	KeyFile  string // its private key, PEM
	// ClientCAFile, when set, holds the CAs (PEM) that client certificates
	// are verified against. A client may still connect without one (and
	// use a bearer token); one that presents a certificate these CAs did
	// not sign fails the handshake.
	ClientCAFile string
	Logger       *slog.Logger     // optional
	Now          func() time.Time // optional; time.Now
	// CheckEvery is the least time between two checks of the files
	// (optional; a second).
	CheckEvery time.Duration
}

// Server holds the TLS configuration built from the files and keeps it in
// step with them. Safe for concurrent use.
type Server struct {
	opts Options

	config  atomic.Pointer[tls.Config] // the configuration handshakes use
	checked atomic.Int64               // unix nanoseconds of the last check

	mu      sync.Mutex // held by the one handshake that checks the files
	tried   [3][]byte  // the contents last loaded, or tried and refused
	lastErr string     // the last failure logged, so it is logged once
}

// Load reads the files. An error says which file is wrong and why; the
// server must not start without a pair that loads.
func Load(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Second
	}
	s := &Server{opts: o}
	files, err := s.read()
	if err != nil {
		return nil, err
	}
	cfg, err := s.build(files)
	if err != nil {
		return nil, err
	}
	s.tried = files
	s.config.Store(cfg)
	s.checked.Store(o.Now().UnixNano())
	return s, nil
}

// Config returns the configuration for http.Server.TLSConfig: TLS 1.2 or
// later, with each handshake's certificate and client CAs taken from the
// files as last checked.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}

// Leaf returns the certificate served now.
func (s *Server) Leaf() *x509.Certificate { return s.config.Load().Certificates[0].Leaf }

// current returns the configuration for a handshake. When a check is due
// the first handshake to see it reads the files; the others go on with
// what is in force rather than wait on the disk.
func (s *Server) current() *tls.Config {
	now := s.opts.Now()
	if now.UnixNano()-s.checked.Load() >= int64(s.opts.CheckEvery) && s.mu.TryLock() {
		s.check(now)
		s.mu.Unlock()
	}
	return s.config.Load()
}

// check reloads the files if they changed and now load. A pair caught
// half-written (a new certificate with the old key) or a file that is
// missing for a moment keeps the previous configuration in force; the
// failure is logged once, and the files are tried again when they change.
func (s *Server) check(now time.Time) {
	s.checked.Store(now.UnixNano())
	files, err := s.read()
	if err == nil && sameFiles(files, s.tried) {
		return
	}
	var cfg *tls.Config
	if err == nil {
		s.tried = files
		cfg, err = s.build(files)
	}
	if err != nil {
		if err.Error() != s.lastErr {
			s.opts.Logger.Error("TLS files not reloaded; the previous certificate and client CAs stay in force", "err", err)
			s.lastErr = err.Error()
		}
		return
	}
	s.lastErr = ""
	s.config.Store(cfg)
	leaf := cfg.Certificates[0].Leaf
	s.opts.Logger.Info("TLS files reloaded", "cert", s.opts.CertFile, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter, "client_ca", s.opts.ClientCAFile)
}

// read returns the contents of the certificate, key and client CA files.
func (s *Server) read() ([3][]byte, error) {
	var files [3][]byte
	for i, path := range []string{s.opts.CertFile, s.opts.KeyFile, s.opts.ClientCAFile} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return files, fmt.Errorf("TLS: %w", err)
		}
		files[i] = b
	}
	return files, nil
}

// build makes the configuration of the files' contents.
func (s *Server) build(files [3][]byte) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(files[0], files[1])
	if err != nil {
		return nil, fmt.Errorf("TLS: the certificate %s and the key %s do not load as a pair: %w", s.opts.CertFile, s.opts.KeyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		// A configuration from GetConfigForClient is used as it is, so it
		// names the protocols http.Server would otherwise add.
		NextProtos: []string{"h2", "http/1.1"},
	}
	if s.opts.ClientCAFile != "" {
		pool, err := parseCAs(files[2])
		if err != nil {
			return nil, fmt.Errorf("TLS: client CA file %s: %w", s.opts.ClientCAFile, err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func sameFiles(a, b [3][]byte) bool {
	return bytes.Equal(a[0], b[0]) && bytes.Equal(a[1], b[1]) && bytes.Equal(a[2], b[2])
}

// parseCAs returns the certificates of a PEM bundle as a pool. Anything
// else in it is an error, a truncated last block included, so a bundle
// caught half-written is not taken for a shorter one.
func parseCAs(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := bytes.TrimSpace(b)
	n := 0
	for len(rest) > 0 {
		n++
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("block %d is not PEM (a truncated file?)", n)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("block %d is a %s, not a CERTIFICATE", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n, err)
		}
		pool.AddCert(cert)
		rest = bytes.TrimSpace(rest)
	}
	if n == 0 {
		return nil, errors.New("no certificates in it")
	}
	return pool, nil
}
