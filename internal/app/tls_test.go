package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testcert"
)

// tlsFixture is a CA, the server's certificate files signed by it, the
// CA as the client CA file, and a token file that gives certificate
// subjects roles.
type tlsFixture struct {
	ca                                   *testcert.CA
	server                               *testcert.Cert
	certFile, keyFile, caFile, tokenFile string
}

const tlsViewerToken = "viewer-token-over-tls-0123"

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	f := &tlsFixture{
		ca:        testcert.NewCA(t, "bss-api test CA"),
		certFile:  filepath.Join(dir, "tls.crt"),
		keyFile:   filepath.Join(dir, "tls.key"),
		caFile:    filepath.Join(dir, "ca.crt"),
		tokenFile: filepath.Join(dir, "tokens.csv"),
	}
	f.server = f.ca.Server(t)
	f.server.WriteFiles(t, f.certFile, f.keyFile)
	f.ca.WriteFile(t, f.caFile)
	tokens := "# token,role,name; an empty token names a client certificate's common name\n" +
		tlsViewerToken + ",viewer,token-viewer\n" +
		",operator,ops-admin\n" +
		",viewer,watcher\n" +
		",scheduler,bss-scheduler\n"
	if err := os.WriteFile(f.tokenFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// args are the flags of a server with TLS, client certificates and the
// token file.
func (f *tlsFixture) args() []string {
	return []string{"--tls-cert-file=" + f.certFile, "--tls-key-file=" + f.keyFile,
		"--tls-client-ca-file=" + f.caFile, "--token-auth-file=" + f.tokenFile}
}

// client returns an HTTPS client that trusts the CA and, when cert is not
// nil, presents it whatever CAs the server asks for. Every request makes a
// new connection and a full handshake (no keep-alive, no resumption).
func (f *tlsFixture) client(cert *testcert.Cert) *http.Client {
	cfg := &tls.Config{RootCAs: f.ca.Pool()}
	if cert != nil {
		pair := cert.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// call makes a request with hc and returns the status and body; the
// body, when not empty, is sent as application/json.
func call(t *testing.T, hc *http.Client, method, url, body string, header ...string) (int, string, *tls.ConnectionState) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.TLS
}

func TestTLSServesRotatedCertificateWithoutRestart(t *testing.T) {
	f := newTLSFixture(t)
	srv := startServerWith(t, nil, f.client(nil), f.args()...)

	code, _, st := call(t, f.client(nil), http.MethodGet, srv.URL+"/readyz", "")
	if code != http.StatusOK || st == nil {
		t.Fatalf("GET /readyz over TLS = %d, TLS %v", code, st)
	}
	if st.Version < tls.VersionTLS12 || st.NegotiatedProtocol != "h2" {
		t.Errorf("TLS version %x, protocol %q; want 1.2 or later and HTTP/2", st.Version, st.NegotiatedProtocol)
	}
	if got := st.PeerCertificates[0].SerialNumber; got.Cmp(f.server.Leaf.SerialNumber) != 0 {
		t.Fatalf("served serial %s, want %s", got, f.server.Leaf.SerialNumber)
	}

	// Plain HTTP on the same port is not served.
	if resp, err := http.Get("http" + strings.TrimPrefix(srv.URL, "https") + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP = %d, want 400", resp.StatusCode)
		}
	}

	// Rotation: the files are rewritten in place, as a renewal does.
	rotated := f.ca.Server(t)
	rotated.WriteFiles(t, f.certFile, f.keyFile)
	serial := poll(t, 10*time.Second, "the rotated certificate to be served", func() (string, bool) {
		_, _, st := call(t, f.client(nil), http.MethodGet, srv.URL+"/readyz", "")
		got := st.PeerCertificates[0].SerialNumber
		return got.String(), got.Cmp(rotated.Leaf.SerialNumber) == 0
	})
	t.Logf("serving the rotated certificate, serial %s", serial)
}

func TestClientCertificatesIdentifyTheirSubject(t *testing.T) {
	f := newTLSFixture(t)
	srv := startServerWith(t, nil, f.client(nil), f.args()...)
	const write = `{"strategies":[{"name":"by-cert","execution_time":1000000,"command_regex":"^x$"}]}`
	definitions := func() string {
		t.Helper()
		_, body, _ := call(t, f.client(nil), http.MethodGet, srv.URL+"/api/v1/scheduling/strategies/definitions", "",
			"Authorization", "Bearer "+tlsViewerToken)
		var v struct{ Strategies json.RawMessage }
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("definitions: %s", body)
		}
		return string(v.Strategies)
	}

	// A certificate from a CA the server does not know fails the
	// handshake. Under TLS 1.3 the client learns it on its first read, and
	// reads before it writes, so a reset cannot hide the server's alert.
	stranger := f.client(testcert.NewCA(t, "another CA").Client(t, "ops-admin")).Transport.(*http.Transport).TLSClientConfig
	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), stranger)
	if err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("a client certificate from an unknown CA: %v; want the handshake refused for it", err)
	}

	cases := []struct {
		name         string
		client       *http.Client
		header       []string
		method, path string
		body         string
		want         int
		changes      bool
	}{
		{name: "operator certificate writes", client: f.client(f.ca.Client(t, "ops-admin", "platform")), method: "POST",
			path: "/api/v1/scheduling/strategies", body: write, want: 200, changes: true},
		{name: "operator certificate may not post metrics", client: f.client(f.ca.Client(t, "ops-admin")), method: "POST",
			path: "/api/v1/metrics", body: `{"nr_queued":1}`, want: 403},
		{name: "viewer certificate reads", client: f.client(f.ca.Client(t, "watcher")), method: "GET",
			path: "/api/v1/scheduling/strategies/definitions", want: 200},
		{name: "viewer certificate may not write", client: f.client(f.ca.Client(t, "watcher")), method: "POST",
			path: "/api/v1/scheduling/strategies", body: `{"strategies":[]}`, want: 403},
		{name: "certificate the token file does not name has no role", client: f.client(f.ca.Client(t, "nobody", "system:masters")),
			method: "GET", path: "/api/v1/scheduling/strategies/definitions", want: 403},
		{name: "bearer token over TLS without a certificate", client: f.client(nil), header: []string{"Authorization", "Bearer " + tlsViewerToken},
			method: "GET", path: "/api/v1/metrics/history", want: 200},
		{name: "no certificate, no token", client: f.client(nil), method: "GET", path: "/api/v1/scheduling/strategies", want: 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := definitions()
			code, body, _ := call(t, c.client, c.method, srv.URL+c.path, c.body, c.header...)
			if code != c.want {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.want)
			}
			if after := definitions(); (after != before) != c.changes {
				t.Errorf("definitions went from %s to %s", before, after)
			}
		})
	}
}

func TestClientCertificateWithoutTokenFileHasNoRole(t *testing.T) {
	f := newTLSFixture(t)
	srv := startServerWith(t, nil, f.client(nil),
		"--tls-cert-file="+f.certFile, "--tls-key-file="+f.keyFile, "--tls-client-ca-file="+f.caFile)
	code, body, _ := call(t, f.client(f.ca.Client(t, "ops-admin", "platform")), http.MethodGet, srv.URL+"/api/v1/scheduling/strategies", "")
	if code != http.StatusForbidden || !strings.Contains(body, "ops-admin may not") {
		t.Errorf("verified certificate without a mapping = %d %s; want 403 naming it (only a Kubernetes authorizer could allow it)", code, body)
	}
	if code, _, _ := call(t, f.client(nil), http.MethodGet, srv.URL+"/api/v1/scheduling/strategies", ""); code != http.StatusUnauthorized {
		t.Errorf("no certificate = %d, want 401", code)
	}
}

// c5Strategies is what the C5 scheduler decodes GET strategies into
// (scheduler-clients.md): priority is an integer there.
type c5Strategies struct {
	Success    bool   `json:"success"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestamp"`
	Scheduling []struct {
		Priority      int    `json:"priority"`
		ExecutionTime uint64 `json:"execution_time"`
		PID           int    `json:"pid"`
	} `json:"scheduling"`
}

// TestC5SchedulerMutualTLS is the C5 scheduler with its mTLS option on and
// its token auth off, built as its client is: a key pair, a CA pool that
// verifies the server, TLS 1.2 or later, the default transport's other
// settings, and Content-Type: application/json on every call, GET
// included. Its certificate's subject is named scheduler in the token file.
func TestC5SchedulerMutualTLS(t *testing.T) {
	f := newTLSFixture(t)
	srv := startServerWith(t, nil, f.client(nil), f.args()...)
	cert := f.ca.Client(t, "bss-scheduler")

	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(f.ca.PEM) {
		t.Fatal("CA PEM")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	c5 := &http.Client{Timeout: 30 * time.Second, Transport: tr}

	const sample = `{"usersched_last_run_at":1750329000000000000,"nr_queued":3,"nr_scheduled":1,"nr_running":2,` +
		`"nr_online_cpus":8,"nr_user_dispatches":120,"nr_kernel_dispatches":40,"nr_cancel_dispatches":0,` +
		`"nr_bounce_dispatches":0,"nr_failed_dispatches":0,"nr_sched_congested":0}`
	if code, body, _ := call(t, c5, http.MethodPost, srv.URL+"/api/v1/metrics", sample); code != http.StatusOK {
		t.Fatalf("C5 POST metrics over mTLS = %d %s", code, body)
	}
	// It polls, and keeps what it has on a 503 (strategies not resolved
	// yet, just after start).
	body := poll(t, 10*time.Second, "C5 GET strategies over mTLS to answer 200", func() (string, bool) {
		code, body, _ := call(t, c5, http.MethodGet, srv.URL+"/api/v1/scheduling/strategies", "", "Content-Type", "application/json")
		return fmt.Sprint(code, " ", body), code != http.StatusServiceUnavailable
	})
	body, ok := strings.CutPrefix(body, "200 ")
	if !ok {
		t.Fatalf("C5 GET strategies over mTLS = %s", body)
	}
	var v c5Strategies
	if err := json.Unmarshal([]byte(body), &v); err != nil || !v.Success || v.Scheduling == nil {
		t.Fatalf("C5 would read %s (%v)", body, err)
	}
	// Its certificate carries the scheduler role, no more.
	if code, body, _ := call(t, c5, http.MethodPost, srv.URL+"/api/v1/scheduling/strategies", `{"strategies":[]}`); code != http.StatusForbidden {
		t.Errorf("C5's certificate writing strategies = %d %s, want 403", code, body)
	}
}
