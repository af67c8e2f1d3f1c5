package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testcert"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer collects log lines from the server's handshakes.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is a Server over files in a temporary directory.
type fixture struct {
	ca                        *testcert.CA
	certFile, keyFile, caFile string
	clock                     *fakeClock
	log                       *logBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{
		ca:       testcert.NewCA(t, "server CA"),
		certFile: filepath.Join(dir, "tls.crt"),
		keyFile:  filepath.Join(dir, "tls.key"),
		caFile:   filepath.Join(dir, "client-ca.crt"),
		clock:    &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		log:      &logBuffer{},
	}
	return f
}

func (f *fixture) load(t *testing.T, clientCA bool) *Server {
	t.Helper()
	o := Options{CertFile: f.certFile, KeyFile: f.keyFile, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.log, nil))}
	if clientCA {
		o.ClientCAFile = f.caFile
	}
	s, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// result is what one handshake showed each side.
type result struct {
	served   *x509.Certificate     // the certificate the client was shown
	verified [][]*x509.Certificate // the client chains the server verified
	err      error
}

// handshake runs a real TLS handshake between s and a client with cfg,
// then one byte from the server, so that a client certificate the server
// refuses fails here under TLS 1.3 too (the client learns it on its first
// read).
func handshake(t *testing.T, s *Server, cfg *tls.Config) result {
	t.Helper()
	sc, cc := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	_ = sc.SetDeadline(deadline)
	_ = cc.SetDeadline(deadline)
	serverDone := make(chan result, 1)
	go func() {
		defer sc.Close()
		conn := tls.Server(sc, s.Config())
		if err := conn.Handshake(); err != nil {
			serverDone <- result{err: err}
			return
		}
		_, err := conn.Write([]byte{'x'})
		serverDone <- result{verified: conn.ConnectionState().VerifiedChains, err: err}
	}()
	conn := tls.Client(cc, cfg)
	err := conn.Handshake()
	if err == nil {
		_, err = io.ReadFull(conn, make([]byte, 1))
	}
	var served *x509.Certificate
	if st := conn.ConnectionState(); len(st.PeerCertificates) > 0 {
		served = st.PeerCertificates[0]
	}
	cc.Close()
	srv := <-serverDone
	return result{served: served, verified: srv.verified, err: errors.Join(err, srv.err)}
}

// client is a client configuration that trusts the server's CA and sends
// certs (at most one) whatever CAs the server asks for: Go's client would
// otherwise send none when its certificate's issuer is not among them.
func (f *fixture) client(certs ...tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "localhost"}
	if len(certs) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	return cfg
}

func TestServesTheFilesPair(t *testing.T) {
	f := newFixture(t)
	cert := f.ca.Server(t)
	cert.WriteFiles(t, f.certFile, f.keyFile)
	s := f.load(t, false)

	got := handshake(t, s, f.client())
	if got.err != nil {
		t.Fatalf("handshake: %v", got.err)
	}
	if got.served.SerialNumber.Cmp(cert.Leaf.SerialNumber) != 0 {
		t.Errorf("served serial %s, want %s", got.served.SerialNumber, cert.Leaf.SerialNumber)
	}
	if s.Leaf().SerialNumber.Cmp(cert.Leaf.SerialNumber) != 0 {
		t.Errorf("Leaf() serial %s, want %s", s.Leaf().SerialNumber, cert.Leaf.SerialNumber)
	}

	old := f.client()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if got := handshake(t, s, old); got.err == nil {
		t.Error("a TLS 1.1 client was served; want TLS 1.2 or later only")
	}
}

func TestRotatedPairIsServedAfterTheNextCheck(t *testing.T) {
	f := newFixture(t)
	first := f.ca.Server(t)
	first.WriteFiles(t, f.certFile, f.keyFile)
	s := f.load(t, false)
	serial := func() string {
		t.Helper()
		got := handshake(t, s, f.client())
		if got.err != nil {
			t.Fatalf("handshake: %v", got.err)
		}
		return got.served.SerialNumber.String()
	}

	second := f.ca.Server(t)
	second.WriteFiles(t, f.certFile, f.keyFile)
	if got, want := serial(), first.Leaf.SerialNumber.String(); got != want {
		t.Errorf("within a second of the last check: serial %s, want the first %s", got, want)
	}
	f.clock.Advance(time.Second)
	if got, want := serial(), second.Leaf.SerialNumber.String(); got != want {
		t.Errorf("a second later: serial %s, want the rotated %s", got, want)
	}
	if !strings.Contains(f.log.String(), "TLS files reloaded") {
		t.Errorf("the reload was not logged:\n%s", f.log)
	}
}

func TestHalfWrittenPairKeepsThePreviousOne(t *testing.T) {
	f := newFixture(t)
	first := f.ca.Server(t)
	first.WriteFiles(t, f.certFile, f.keyFile)
	s := f.load(t, false)
	next := f.ca.Server(t)

	steps := []struct {
		name  string
		write func()
		want  *testcert.Cert
		log   string
	}{
		{"new certificate, old key", func() { writeFile(t, f.certFile, next.CertPEM) }, first, "do not load as a pair"},
		{"key truncated", func() { writeFile(t, f.keyFile, next.KeyPEM[:len(next.KeyPEM)/2]) }, first, "do not load as a pair"},
		{"certificate file gone", func() { _ = os.Remove(f.certFile) }, first, "no such file"},
		{"both written", func() { next.WriteFiles(t, f.certFile, f.keyFile) }, next, "TLS files reloaded"},
	}
	for _, step := range steps {
		step.write()
		f.clock.Advance(time.Second)
		got := handshake(t, s, f.client())
		if got.err != nil {
			t.Fatalf("%s: handshake: %v", step.name, got.err)
		}
		if got.served.SerialNumber.Cmp(step.want.Leaf.SerialNumber) != 0 {
			t.Errorf("%s: served serial %s, want %s", step.name, got.served.SerialNumber, step.want.Leaf.SerialNumber)
		}
		if !strings.Contains(f.log.String(), step.log) {
			t.Errorf("%s: log lacks %q:\n%s", step.name, step.log, f.log)
		}
	}
	// A refused pair is logged once, not at every check.
	writeFile(t, f.keyFile, first.KeyPEM)
	for range 3 {
		f.clock.Advance(time.Second)
		handshake(t, s, f.client())
	}
	if n := strings.Count(f.log.String(), "do not load as a pair"); n != 3 {
		t.Errorf("pair failures logged %d times, want 3 (one per distinct failure):\n%s", n, f.log)
	}
}

func TestClientCertificates(t *testing.T) {
	f := newFixture(t)
	f.ca.Server(t).WriteFiles(t, f.certFile, f.keyFile)
	clientCA := testcert.NewCA(t, "client CA")
	clientCA.WriteFile(t, f.caFile)
	s := f.load(t, true)

	got := handshake(t, s, f.client(clientCA.Client(t, "alice", "ops").TLS()))
	if got.err != nil {
		t.Fatalf("client of the configured CA: %v", got.err)
	}
	if len(got.verified) == 0 || got.verified[0][0].Subject.CommonName != "alice" {
		t.Errorf("verified chains %v, want alice's", got.verified)
	}

	if got := handshake(t, s, f.client()); got.err != nil || len(got.verified) != 0 {
		t.Errorf("client without a certificate: err %v, verified %v; want a handshake with nothing verified (a token may follow)", got.err, got.verified)
	}

	stranger := testcert.NewCA(t, "another CA")
	if got := handshake(t, s, f.client(stranger.Client(t, "alice", "ops").TLS())); got.err == nil ||
		!strings.Contains(got.err.Error(), "unknown certificate authority") {
		t.Errorf("a certificate from an unknown CA: %v, want the handshake refused for its unknown authority", got.err)
	}

	// The CA file is replaced: the new CA's clients get in, the old one's
	// no longer do.
	stranger.WriteFile(t, f.caFile)
	f.clock.Advance(time.Second)
	if got := handshake(t, s, f.client(stranger.Client(t, "bob").TLS())); got.err != nil {
		t.Errorf("client of the rotated-in CA: %v", got.err)
	}
	if got := handshake(t, s, f.client(clientCA.Client(t, "alice").TLS())); got.err == nil {
		t.Error("a client of the rotated-out CA was accepted")
	}

	// A CA file caught half-written keeps the previous CAs.
	writeFile(t, f.caFile, clientCA.PEM[:len(clientCA.PEM)-40])
	f.clock.Advance(time.Second)
	if got := handshake(t, s, f.client(stranger.Client(t, "bob").TLS())); got.err != nil {
		t.Errorf("after a truncated CA file: %v; want the previous CAs in force", got.err)
	}
	if !strings.Contains(f.log.String(), "client CA file") {
		t.Errorf("the truncated CA file was not logged:\n%s", f.log)
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	f := newFixture(t)
	cert := f.ca.Server(t)
	other := f.ca.Server(t)
	cases := []struct {
		name  string
		setup func()
		ca    bool
		want  string
	}{
		{"missing certificate", func() { _ = os.Remove(f.certFile) }, false, "tls.crt"},
		{"key of another certificate", func() { cert.WriteFiles(t, f.certFile, f.keyFile); writeFile(t, f.keyFile, other.KeyPEM) }, false, "do not load as a pair"},
		{"empty CA file", func() { cert.WriteFiles(t, f.certFile, f.keyFile); writeFile(t, f.caFile, nil) }, true, "no certificates"},
		{"CA file with a key", func() { writeFile(t, f.caFile, cert.KeyPEM) }, true, "not a CERTIFICATE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.setup()
			o := Options{CertFile: f.certFile, KeyFile: f.keyFile}
			if c.ca {
				o.ClientCAFile = f.caFile
			}
			_, err := Load(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
