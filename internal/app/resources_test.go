package app

import (
	"bufio"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestMemoryLimitFlag: --memory-limit sets the runtime's soft limit and
// says so in the log; GOMEMLIMIT is reported when the flag is left at
// auto.
func TestMemoryLimitFlag(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	srv := startServer(t, nil, "--memory-limit=300MiB")
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("soft limit = %d, want %d", got, 300<<20)
	}
	if log := srv.Logs.String(); !strings.Contains(log, `"msg":"memory limit","soft_limit":"300.0MiB","source":"--memory-limit"`) {
		t.Errorf("no log line of the limit:\n%s", log)
	}

	debug.SetMemoryLimit(200 << 20) // as the runtime does for GOMEMLIMIT=200MiB
	srv = startServer(t, map[string]string{"GOMEMLIMIT": "200MiB"})
	if log := srv.Logs.String(); !strings.Contains(log, `"soft_limit":"200.0MiB","source":"GOMEMLIMIT"`) {
		t.Errorf("GOMEMLIMIT not reported:\n%s", log)
	}

	srv = startServer(t, map[string]string{"GOMEMLIMIT": "200MiB"}, "--memory-limit=off")
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("--memory-limit=off left a soft limit of %d", got)
	}
	if log := srv.Logs.String(); !strings.Contains(log, `"soft_limit":"none","source":"--memory-limit=off"`) {
		t.Errorf("off not reported:\n%s", log)
	}
}

// TestConnectionLimitsAreWired: the server applies
// --max-connections-per-client to what it accepts, and logs the refusal.
func TestConnectionLimitsAreWired(t *testing.T) {
	srv := startServer(t, nil, "--max-connections=8", "--max-connections-per-client=2", "--log-level=warn")
	addr := strings.TrimPrefix(srv.URL, "http://")
	// From an address of its own: the test's HTTP client keeps a
	// connection from 127.0.0.1. Linux routes all of 127/8 to lo.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 5)}}
	var conns []net.Conn
	for range 2 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Skipf("cannot connect from 127.0.0.5 here: %v", err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	third, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = third.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("a third connection from one client: read %v, want it closed", err)
	}
	if !strings.Contains(srv.Logs.String(), "refusing connections") {
		t.Errorf("no log line of the refusal:\n%s", srv.Logs.String())
	}
	// The two within the share are served.
	for _, c := range conns {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("healthz = %d", resp.StatusCode)
		}
	}
}
