package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// serve runs an HTTP server behind a Limiter with o on loopback and
// returns its address and the limiter.
func serve(t *testing.T, o Options) (string, *Limiter) {
	t.Helper()
	o.Registry = prometheus.NewRegistry()
	l := New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				time.Sleep(300 * time.Millisecond)
			}
			_, _ = io.WriteString(w, "ok")
		}),
		ConnState:         l.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l.Listen(ln))
	}()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String(), l
}

// dialFrom connects to addr from the loopback address from (Linux routes
// all of 127.0.0.0/8 to lo, so each is another client).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if from != "127.0.0.1" && errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot connect from %s on this system: %v", from, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// get sends one keep-alive request on c and reads the answer; it reports
// whether the server answered.
func get(c net.Conn, path string) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// closedByServer reports whether the server has closed c (a read ends
// with EOF or a reset rather than timing out).
func closedByServer(c net.Conn, within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && (!errors.As(err, &ne) || !ne.Timeout())
}

func waitOpen(t *testing.T, l *Limiter, want int) {
	t.Helper()
	for range 200 {
		if l.Open() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("open connections = %d, want %d", l.Open(), want)
}

func TestPerClientShare(t *testing.T) {
	addr, l := serve(t, Options{Max: 10, PerClient: 2})
	a, b := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	waitOpen(t, l, 2)
	third := dialFrom(t, "127.0.0.1", addr)
	if !closedByServer(third, 2*time.Second) {
		t.Error("a third connection from one client was kept open, want it closed at once")
	}
	if got := testutil.ToFloat64(l.metrics.refused.WithLabelValues("per-client")); got != 1 {
		t.Errorf("per-client refusals = %v, want 1", got)
	}
	for _, c := range []net.Conn{a, b} {
		if !get(c, "/") {
			t.Error("a connection within the client's share was not served")
		}
	}
	other := dialFrom(t, "127.0.0.2", addr)
	if !get(other, "/") {
		t.Error("another client was refused while the first held its share")
	}
	a.Close()
	waitOpen(t, l, 2)
	if again := dialFrom(t, "127.0.0.1", addr); !get(again, "/") {
		t.Error("a closed connection did not give its slot back to its client")
	}
}

func TestAtCapacityTheLongestWaitingMakesRoom(t *testing.T) {
	const waited = 150 * time.Millisecond
	addr, l := serve(t, Options{Max: 3, PerClient: 3, NearCapIdle: waited})
	silent := dialFrom(t, "127.0.0.2", addr) // opened, never asks
	keptAlive := dialFrom(t, "127.0.0.3", addr)
	if !get(keptAlive, "/") { // answered, then idle
		t.Fatal("not served")
	}
	third := dialFrom(t, "127.0.0.4", addr)
	waitOpen(t, l, 3)
	time.Sleep(waited + 20*time.Millisecond)
	// At the cap, each newcomer closes the connection that has waited
	// longest for a request: first the silent one, then the idle one.
	n1, n2 := dialFrom(t, "127.0.0.5", addr), dialFrom(t, "127.0.0.6", addr)
	if !closedByServer(silent, 2*time.Second) {
		t.Error("the silent connection was kept; it waited longest and should have made room")
	}
	if !closedByServer(keptAlive, 2*time.Second) {
		t.Error("the idle keep-alive connection was kept at the cap")
	}
	if closedByServer(third, 100*time.Millisecond) {
		t.Error("the connection that waited least was closed")
	}
	for i, c := range []net.Conn{n1, n2} {
		if !get(c, "/") {
			t.Errorf("newcomer %d not served at the cap", i)
		}
	}
	if got := l.Open(); got > 3 {
		t.Errorf("open = %d, above the cap of 3", got)
	}
}

func TestNearCapacityIdleConnectionsCloseSoon(t *testing.T) {
	addr, l := serve(t, Options{Max: 10, PerClient: 10, NearCapIdle: 300 * time.Millisecond})
	var conns []net.Conn
	for range 9 { // 9/10 of the cap
		conns = append(conns, dialFrom(t, "127.0.0.1", addr))
	}
	waitOpen(t, l, 9)
	// A client that keeps using its connection keeps it.
	for i := range 4 {
		if !get(conns[1], "/") {
			t.Fatalf("request %d on a connection in use was not served", i)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One that leaves it idle loses it after the short idle time.
	if !get(conns[0], "/") {
		t.Fatal("not served")
	}
	begin := time.Now()
	if !closedByServer(conns[0], 3*time.Second) {
		t.Fatal("near the cap, a connection left idle was kept open")
	}
	if took := time.Since(begin); took < 200*time.Millisecond {
		t.Errorf("closed %s after going idle, before its short idle time", took)
	}
	if got := testutil.ToFloat64(l.metrics.shortIdle); got < 5 {
		t.Errorf("short idle times = %v, want one per idle period near the cap (5)", got)
	}
	for _, c := range conns[2:] {
		c.Close()
	}
	waitOpen(t, l, 0) // conns[1] too had been idle long enough
	far := dialFrom(t, "127.0.0.1", addr)
	if !get(far, "/") || closedByServer(far, 500*time.Millisecond) {
		t.Error("far from the cap, an idle keep-alive connection was closed")
	}
}

func TestBusyConnectionsAreNotClosedForNewcomers(t *testing.T) {
	addr, l := serve(t, Options{Max: 1, PerClient: 2})
	busy := dialFrom(t, "127.0.0.1", addr)
	answered := make(chan bool, 1)
	go func() { answered <- get(busy, "/slow") }()
	time.Sleep(100 * time.Millisecond) // the request is being served
	late := dialFrom(t, "127.0.0.1", addr)
	if !closedByServer(late, 2*time.Second) {
		t.Error("with the only slot busy, a newcomer was kept past the wait")
	}
	if !<-answered {
		t.Error("the busy connection was cut for a newcomer")
	}
	if got := testutil.ToFloat64(l.metrics.refused.WithLabelValues("capacity")); got != 1 {
		t.Errorf("capacity refusals = %v, want 1", got)
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(Options{Max: 1, PerClient: 1, Registry: reg})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "bss_connections_open") {
		t.Errorf("registered %s", got)
	}
}
