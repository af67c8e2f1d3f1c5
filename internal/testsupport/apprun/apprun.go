// Package apprun runs the whole server in the test's process, as main
// does, for the tests of packages that talk to it from outside (the Go
// client, bssctl). internal/app's own tests have their harness in the
// package itself.
package apprun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/app"
)

// Start runs the server with args until t ends, and returns the address
// of its first listener once it listens. args must log JSON
// (--log-format=json) and should listen on a free port (127.0.0.1:0). The
// server sees an empty environment. When t fails, its log is logged.
func Start(t testing.TB, args []string) (addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logR, logW := io.Pipe()
	var (
		logMu sync.Mutex
		logs  bytes.Buffer
	)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, args, func(string) string { return "" }, io.Discard, logW)
		_ = logW.Close()
	}()
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			logMu.Lock()
			logs.Write(sc.Bytes())
			logs.WriteByte('\n')
			logMu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				select {
				case listening <- line.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, logR) // a line past the buffer: keep the server unblocked
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: Run() on shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s")
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("server log:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	select {
	case addr = <-listening:
		return addr
	case err := <-done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30s")
	}
	return ""
}
