package app

import (
	"net/http"
	"testing"
	"time"
)

// With several listeners (the default is the loopback pair 127.0.0.1 and
// ::1) every one serves plain HTTP: the first Serve's HTTP/2 setup must not
// turn the others to TLS without a certificate, which stopped the server.
func TestSeveralPlainListeners(t *testing.T) {
	srv := startServer(t, nil, "--listen=127.0.0.1:0,127.0.0.1:0,127.0.0.1:0,127.0.0.1:0")
	select {
	case err := <-srv.done:
		srv.done <- err // for the cleanup's check
		t.Fatalf("the server stopped with 4 listeners: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d", res.StatusCode)
	}
}
