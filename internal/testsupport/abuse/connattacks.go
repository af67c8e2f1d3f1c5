package abuse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// idleConns opens n connections from srcs, each sending one request and
// then staying open and silent for hold.
func idleConns(ctx context.Context, t Target, n int, srcs []string, hold time.Duration) (Outcome, error) {
	conns := make(held, n)
	var served, refused atomic.Int64
	req := []byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	forEach(ctx, n, 32, func(i int) {
		c, err := dialFrom(ctx, srcs[i%len(srcs)], t.Addr)
		if err != nil {
			refused.Add(1)
			return
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := roundTrip(c, bufio.NewReaderSize(c, 512), req); err != nil {
			refused.Add(1)
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		served.Add(1)
		conns[i] = c
	})
	defer conns.close()
	sleep(ctx, hold)
	return Outcome{Notes: fmt.Sprintf("%d served, %d refused; %d still open after %s",
		served.Load(), refused.Load(), conns.stillOpen(ctx), hold)}, nil
}

// slowBodies opens n connections from srcs, each posting metrics with a
// Content-Length of 64 KiB and sending the body at 10 bytes a second.
func slowBodies(ctx context.Context, t Target, n int, srcs []string, hold time.Duration) (Outcome, error) {
	conns := make(held, n)
	head := []byte("POST /api/v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n[")
	var opened atomic.Int64
	forEach(ctx, n, 32, func(i int) {
		c, err := dialFrom(ctx, srcs[i%len(srcs)], t.Addr)
		if err != nil {
			return
		}
		if _, err := c.Write(head); err != nil {
			c.Close()
			return
		}
		opened.Add(1)
		conns[i] = c
	})
	defer conns.close()
	// A byte every 100 ms on each connection: 10 B/s.
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			end := time.Now().Add(hold)
			for time.Now().Before(end) && ctx.Err() == nil {
				for i := w; i < n; i += workers {
					if c := conns[i]; c != nil {
						_ = c.SetWriteDeadline(time.Now().Add(time.Second))
						_, _ = c.Write([]byte{' '})
					}
				}
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
	return Outcome{Notes: fmt.Sprintf("%d of %d opened; %d still open after %s", opened.Load(), n, conns.stillOpen(ctx), hold)}, nil
}

// padHeaders returns header lines of about size bytes.
func padHeaders(size int) string {
	var b strings.Builder
	for i := 0; b.Len() < size-120; i++ {
		fmt.Fprintf(&b, "X-Pad-%04d: %s\r\n", i, strings.Repeat("x", 100))
	}
	return b.String()
}

// slowHeaders opens 1,000 connections from 100 clients, each sending 60
// KiB of headers and never the blank line that ends them.
func slowHeaders(ctx context.Context, t Target) (Outcome, error) {
	const n = 1000
	hold := t.dur(8*time.Second, 6*time.Second)
	srcs := Sources(100)
	part := []byte("GET /api/v1/scheduling/strategies HTTP/1.1\r\nHost: 127.0.0.1\r\n" + padHeaders(60<<10))
	conns := make(held, n)
	var sent atomic.Int64
	forEach(ctx, n, 32, func(i int) {
		c, err := dialFrom(ctx, srcs[i%len(srcs)], t.Addr)
		if err != nil {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(part); err != nil {
			c.Close()
			return
		}
		sent.Add(1)
		conns[i] = c
	})
	defer conns.close()
	sleep(ctx, hold)
	return Outcome{Notes: fmt.Sprintf("%d sent their headers; %d still open after %s", sent.Load(), conns.stillOpen(ctx), hold)}, nil
}

// hammerFor runs hammer for d and reports the answers.
func hammerFor(ctx context.Context, t Target, srcs []string, conns int, req []byte, d time.Duration) (Outcome, error) {
	hctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	counts := hammer(hctx, t.Addr, srcs, conns, req)
	return Outcome{Notes: fmt.Sprintf("in %s, answers%s", time.Since(start).Round(100*time.Millisecond), counts)}, nil
}

// chunkedPost is a POST of metrics with a chunked body of size bytes: a
// JSON array padded with spaces.
func chunkedPost(size int) []byte {
	var b bytes.Buffer
	b.WriteString("POST /api/v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
	body := append(append([]byte(`[{"nr_queued":1}`), bytes.Repeat([]byte(" "), size-18)...), ']')
	for len(body) > 0 {
		n := min(len(body), 32<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}
