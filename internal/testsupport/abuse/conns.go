package abuse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Sources returns n loopback client addresses from 127.1.0.1 up: Linux
// routes all of 127.0.0.0/8 to lo, so each is another client to the
// server (attacks from one client use OneClient).
func Sources(n int) []string {
	out := make([]string, n)
	for i := range out {
		v := 1 + i
		out[i] = fmt.Sprintf("127.1.%d.%d", v>>8, v&0xff)
	}
	return out
}

// OneClient is the address of attacks from a single client; the normal
// client is 127.0.0.1.
var OneClient = []string{"127.0.0.2"}

// dialFrom connects to addr from the loopback address src.
func dialFrom(ctx context.Context, src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

// forEach calls fn(i) for i in [0, n) on workers goroutines, and returns
// when all have returned. Attacks hold thousands of connections with a
// few goroutines: the race detector allows 8128 at once.
func forEach(ctx context.Context, n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// held is a set of attack connections, some of which the server may
// have closed.
type held []net.Conn

// stillOpen counts the connections the server has not closed: a read
// that times out finds the connection open; an end of file, a reset or
// an answer (a 408, say) finds it done.
func (h held) stillOpen(ctx context.Context) int {
	var open atomic.Int64
	forEach(ctx, len(h), 64, func(i int) {
		c := h[i]
		if c == nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open.Add(1)
		}
	})
	return int(open.Load())
}

func (h held) close() {
	for _, c := range h {
		if c != nil {
			_ = c.Close()
		}
	}
}

// roundTrip writes a raw request on c and reads the answer's status.
func roundTrip(c net.Conn, br *bufio.Reader, request []byte) (int, error) {
	if _, err := c.Write(request); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// statusCounts counts answers by status, and transport failures as 0.
type statusCounts struct {
	mu sync.Mutex
	m  map[int]int
}

func (s *statusCounts) add(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]int{}
	}
	s.m[status]++
}

func (s *statusCounts) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := ""
	for _, code := range []int{200, 201, 400, 408, 413, 429, 431, 503, 0} {
		if n := s.m[code]; n > 0 {
			name := fmt.Sprint(code)
			if code == 0 {
				name = "no answer"
			}
			out += fmt.Sprintf(" %s:%d", name, n)
		}
	}
	for code, n := range s.m {
		switch code {
		case 200, 201, 400, 408, 413, 429, 431, 503, 0:
		default:
			out += fmt.Sprintf(" %d:%d", code, n)
		}
	}
	return out
}

// hammer has each of conns connections (from srcs in turn) send request
// and read the answer back to back until ctx is done, reconnecting when
// the server closes one. It returns the answers by status.
func hammer(ctx context.Context, addr string, srcs []string, conns int, request []byte) *statusCounts {
	counts := &statusCounts{}
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for ctx.Err() == nil {
				if c == nil {
					var err error
					if c, err = dialFrom(ctx, srcs[i%len(srcs)], addr); err != nil {
						counts.add(0)
						sleep(ctx, 10*time.Millisecond)
						continue
					}
					br = bufio.NewReader(c)
				}
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				status, err := roundTrip(c, br, request)
				if err != nil {
					if ctx.Err() == nil {
						counts.add(0)
					}
					c.Close()
					c = nil
					continue
				}
				counts.add(status)
			}
		})
	}
	wg.Wait()
	return counts
}
