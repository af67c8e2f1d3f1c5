package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

// TestReadResponse reads real net/http responses of every framing the
// parser supports, several on one connection.
func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", 100<<10) // large enough to be chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	steps := []struct {
		path      string
		status    int
		keepAlive bool
	}{
		{"/small", 200, true},
		{"/big", 200, true},
		{"/empty", 204, true},
		{"/missing", 404, true},
		{"/small", 200, true},
		{"/close", 200, false},
	}
	for _, s := range steps {
		if _, err := conn.Write(buildRequest(target{method: "GET", path: s.path}, addr)); err != nil {
			t.Fatal(err)
		}
		info, err := readResponse(br, "GET")
		if err != nil {
			t.Fatalf("GET %s: %v", s.path, err)
		}
		if info.status != s.status || info.keepAlive != s.keepAlive {
			t.Errorf("GET %s: got %+v, want status %d keepAlive %v", s.path, info, s.status, s.keepAlive)
		}
	}
	if br.Buffered() != 0 {
		t.Errorf("%d bytes left unread", br.Buffered())
	}
}

func TestReadResponseMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"garbage\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nbody until close",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		if _, err := readResponse(bufio.NewReader(strings.NewReader(in)), "GET"); err == nil {
			t.Errorf("readResponse(%q) = nil error, want one", in)
		}
	}
}

func TestParseOptions(t *testing.T) {
	if _, err := parseOptions([]string{"-url", "http://10.0.0.1:8080"}, new(strings.Builder)); err == nil {
		t.Error("a non-loopback -url was accepted")
	}
	if _, err := parseOptions([]string{"-target", "get:nopath"}, new(strings.Builder)); err == nil {
		t.Error("get: without a leading / was accepted")
	}
	o, err := parseOptions([]string{"-url", "http://127.0.0.1:8080", "-target", "get:/api/v1/pods/pids"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:8080" || o.reference || o.target.method != "GET" || o.target.path != "/api/v1/pods/pids" {
		t.Errorf("options = %+v", o)
	}
}

func TestParseOptionsBatch(t *testing.T) {
	o, err := parseOptions([]string{"-batch", "3"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.Decode(o.target.body)
	if err != nil || len(b.Samples) != 3 || b.Samples[2].NrQueued != 10 {
		t.Errorf("-batch 3 body %s decodes to %+v, %v; want 3 seed samples", o.target.body, b, err)
	}
	for _, args := range [][]string{{"-batch", "0"}, {"-batch", "2", "-target", "get:/api/v1/metrics"}} {
		if _, err := parseOptions(args, new(strings.Builder)); err == nil {
			t.Errorf("parseOptions(%q) accepted", args)
		}
	}
}

// TestTokenIsSent drives a server that answers 401 without the bearer
// token: with -token every request carries it.
func TestTokenIsSent(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.payload.signature"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	o, err := parseOptions([]string{"-url", "http://" + addr, "-token", token}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	res, err := runLoad(t.Context(), loadConfig{addr: addr, request: buildRequest(o.target, addr), method: o.target.method, conns: 2, duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.latencies) == 0 || res.errors() > 0 {
		t.Errorf("%d responses, %d errors (first status %d), want only 2xx", len(res.latencies), res.errors(), res.firstBad)
	}
	for _, bad := range []string{"two words", "line\r\nX-Injected: 1", "tab\t"} {
		if _, err := parseOptions([]string{"-token", bad}, new(strings.Builder)); err == nil {
			t.Errorf("-token %q accepted", bad)
		}
	}
}
