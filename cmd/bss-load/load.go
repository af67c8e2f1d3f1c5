package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

const (
	dialTimeout = 2 * time.Second
	// ioGrace bounds how long a request in flight at the deadline may take,
	// so a hung server cannot hang the run.
	ioGrace    = 5 * time.Second
	retryPause = 10 * time.Millisecond
)

// loadConfig describes one load run.
type loadConfig struct {
	addr     string // 127.0.0.1:PORT
	request  []byte // one complete HTTP/1.1 request
	method   string
	conns    int
	duration time.Duration
	capHint  int // latencies to preallocate per connection; 0 means a default
}

// loadResult is what one load run measured.
type loadResult struct {
	elapsed    time.Duration
	latencies  []time.Duration // one per response, sorted
	non2xx     int
	transport  int // transport errors: dial, write, read, malformed response
	reconnects int // connections the server closed cleanly
	firstErr   string
	firstBad   int // first non-2xx status seen
}

func (r loadResult) errors() int { return r.non2xx + r.transport }

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

// runLoad opens cfg.conns keep-alive connections and has one goroutine per
// connection send requests back to back until cfg.duration has passed. All
// goroutines have returned and all connections are closed when it returns.
func runLoad(ctx context.Context, cfg loadConfig) (loadResult, error) {
	capHint := cfg.capHint
	if capHint <= 0 {
		capHint = 4096
	}
	workers := make([]*worker, cfg.conns)
	defer func() {
		for _, w := range workers {
			if w != nil {
				w.closeConn()
			}
		}
	}()
	farDeadline := time.Now().Add(cfg.duration + dialTimeout*time.Duration(cfg.conns) + ioGrace)
	for i := range workers {
		w := &worker{cfg: &cfg, lat: make([]time.Duration, 0, capHint)}
		if err := w.dial(ctx, farDeadline); err != nil {
			return loadResult{}, fmt.Errorf("connection %d: %w", i, err)
		}
		workers[i] = w
	}

	start := time.Now()
	deadline := start.Add(cfg.duration)
	ioDeadline := deadline.Add(ioGrace)
	for _, w := range workers {
		w.setDeadline(ioDeadline)
	}
	stopInterrupt := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			w.interrupt()
		}
	})
	defer stopInterrupt()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, deadline, ioDeadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return loadResult{}, fmt.Errorf("load interrupted: %w", err)
	}
	return merge(workers, elapsed), nil
}

func merge(workers []*worker, elapsed time.Duration) loadResult {
	res := loadResult{elapsed: elapsed}
	n := 0
	for _, w := range workers {
		n += len(w.lat)
	}
	res.latencies = make([]time.Duration, 0, n)
	for _, w := range workers {
		res.latencies = append(res.latencies, w.lat...)
		res.non2xx += w.non2xx
		res.transport += w.transport
		res.reconnects += w.reconnects
		if res.firstErr == "" && w.firstErr != nil {
			res.firstErr = w.firstErr.Error()
		}
		if res.firstBad == 0 {
			res.firstBad = w.firstBad
		}
	}
	slices.Sort(res.latencies)
	return res
}

// worker drives one connection. Only its own goroutine touches its fields,
// except conn and interrupted, which interrupt reaches under mu.
type worker struct {
	cfg *loadConfig
	br  *bufio.Reader

	mu          sync.Mutex
	conn        net.Conn
	interrupted bool

	lat        []time.Duration
	non2xx     int
	transport  int
	reconnects int
	firstErr   error
	firstBad   int
}

func (w *worker) run(ctx context.Context, deadline, ioDeadline time.Time) {
	for {
		if ctx.Err() != nil {
			return
		}
		if w.conn == nil {
			if !time.Now().Before(deadline) {
				return
			}
			if err := w.dial(ctx, ioDeadline); err != nil {
				w.fail(err)
				pause(ctx, deadline)
				continue
			}
		}
		t0 := time.Now()
		if !t0.Before(deadline) {
			return
		}
		info, err := w.roundTrip()
		lat := time.Since(t0)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fail(err)
			w.closeConn()
			continue
		}
		w.lat = append(w.lat, lat)
		if info.status < 200 || info.status > 299 {
			w.non2xx++
			if w.firstBad == 0 {
				w.firstBad = info.status
			}
		}
		if !info.keepAlive {
			w.reconnects++
			w.closeConn()
		}
	}
}

func (w *worker) roundTrip() (responseInfo, error) {
	if _, err := w.conn.Write(w.cfg.request); err != nil {
		return responseInfo{}, fmt.Errorf("write request: %w", err)
	}
	info, err := readResponse(w.br, w.cfg.method)
	if err != nil {
		return info, fmt.Errorf("read response: %w", err)
	}
	return info, nil
}

func (w *worker) fail(err error) {
	w.transport++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func (w *worker) dial(ctx context.Context, ioDeadline time.Time) error {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", w.cfg.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", w.cfg.addr, err)
	}
	if err := conn.SetDeadline(ioDeadline); err != nil {
		conn.Close()
		return fmt.Errorf("set deadline: %w", err)
	}
	if w.br == nil {
		w.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		w.br.Reset(conn)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.interrupted {
		conn.Close()
		return errors.New("interrupted")
	}
	w.conn = conn
	return nil
}

func (w *worker) setDeadline(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		_ = w.conn.SetDeadline(t)
	}
}

// interrupt makes any blocked read or write of the worker fail at once.
func (w *worker) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.interrupted = true
	if w.conn != nil {
		_ = w.conn.SetDeadline(time.Unix(1, 0))
	}
}

func (w *worker) closeConn() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// pause waits a little before a retry, never past deadline.
func pause(ctx context.Context, deadline time.Time) {
	d := min(retryPause, time.Until(deadline))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
