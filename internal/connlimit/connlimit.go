// Package connlimit bounds the connections a server holds: in all, and
// per client. Each connection costs a file descriptor and tens of
// kilobytes (a goroutine, its read and write buffers), so an unbounded
// number of idle or slow clients can exhaust either.
package connlimit

import (
	"container/list"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/ratelimit"
)

// Options configure a Limiter.
type Options struct {
	// Max bounds the connections open at once on every listener of the
	// Limiter together.
	Max int
	// PerClient bounds the connections open at once from one client, as
	// ratelimit.ClientKey names it (an IPv4 address, an IPv6 /64).
	PerClient int
	// Wait is how long a new connection waits for a free slot when every
	// open connection is busy (none idle to close); past it the new one is
	// closed. Default 200 ms: while it waits, Accept waits, and a queue of
	// connections the server cannot take is better refused soon.
	Wait time.Duration
	// NearCapIdle is how long a connection may stay idle between requests
	// near the cap (9/10 of it), instead of the server's idle timeout,
	// and how long one must have waited for a request before a newcomer at
	// the cap may close it. Default one second: a client using its
	// connection keeps it, one keeping it for later gives it up.
	NearCapIdle time.Duration
	Logger      *slog.Logger
	Registry    prometheus.Registerer // optional
}

// Limiter holds the count of open connections for the listeners it
// wraps and the http.Server that serves them (its ConnState). When a
// connection arrives at the cap, the connection that has waited longest
// for a request (idle keep-alive, or opened and silent), if it has waited
// Options.NearCapIdle, is closed to make room; when none has, the new one
// waits for a slot, up to Options.Wait.
// Near the cap (9/10 of it), a connection that goes idle is closed after
// Options.NearCapIdle without a request, so keep-alive holds no slot a new
// client needs. Connections past a client's share are closed as soon as
// they are accepted. Safe for concurrent use.
type Limiter struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	open    int
	clients map[string]int
	waiting list.List     // *Conn waiting for a request, longest first
	freed   chan struct{} // closed and replaced whenever a slot frees
	warned  time.Time     // last refusal logged
}

// New returns a Limiter; o.Max and o.PerClient must be positive.
func New(o Options) *Limiter {
	if o.Wait <= 0 {
		o.Wait = 200 * time.Millisecond
	}
	if o.NearCapIdle <= 0 {
		o.NearCapIdle = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{opts: o, log: o.Logger, clients: map[string]int{}, freed: make(chan struct{}), metrics: newMetrics(o.Registry)}
	l.waiting.Init()
	return l
}

// Listen wraps ln: its Accept returns only connections within the
// limits, as *Conn.
func (l *Limiter) Listen(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

// ConnState is the http.Server's ConnState hook: it tells the Limiter
// which connections wait for a request, so they can make room.
func (l *Limiter) ConnState(nc net.Conn, state http.ConnState) {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = t.NetConn()
	}
	c, ok := nc.(*Conn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		l.mu.Lock()
		l.unwait(c)
		c.idleBy = time.Time{}
		l.mu.Unlock()
	case http.StateIdle:
		now := time.Now()
		l.mu.Lock()
		if !c.closed {
			l.wait(c, now)
		}
		near := l.open >= l.nearCap()
		if near {
			// The server sets its idle deadline next; SetReadDeadline
			// brings it forward.
			c.idleBy = now.Add(l.opts.NearCapIdle)
		}
		l.mu.Unlock()
		if near {
			l.metrics.shortIdle.Inc()
		}
	case http.StateHijacked, http.StateClosed:
		l.mu.Lock()
		l.unwait(c)
		l.mu.Unlock()
	}
}

// Open returns the connections open now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Limiter) nearCap() int { return l.opts.Max - l.opts.Max/10 }

// admit decides about a new connection: without an error, it holds a
// slot now.
func (l *Limiter) admit(nc net.Conn) (*Conn, error) {
	key := ratelimit.ClientKey(nc.RemoteAddr().String())
	giveUp := time.Now().Add(l.opts.Wait)
	for {
		now := time.Now()
		l.mu.Lock()
		if l.clients[key] >= l.opts.PerClient {
			l.mu.Unlock()
			l.refuse("per-client", key)
			return nil, errRefused
		}
		if l.open < l.opts.Max {
			l.open++
			l.clients[key]++
			c := &Conn{Conn: nc, l: l, key: key}
			l.wait(c, now) // silent until its first request
			l.mu.Unlock()
			l.metrics.open.Inc()
			return c, nil
		}
		wake := giveUp
		var victim *Conn
		if e := l.waiting.Front(); e != nil {
			// One that has just connected, or just been answered, is
			// about to send its request: it must have waited a while.
			if c := e.Value.(*Conn); now.Sub(c.since) >= l.opts.NearCapIdle {
				victim = c
				l.unwait(c)
			} else if t := c.since.Add(l.opts.NearCapIdle); t.Before(wake) {
				wake = t
			}
		}
		freed := l.freed
		l.mu.Unlock()
		if victim != nil {
			l.metrics.closedIdle.Inc()
			_ = victim.Close() // frees its slot; take it on the next turn
			continue
		}
		if !now.Before(giveUp) {
			l.refuse("capacity", key)
			return nil, errRefused
		}
		t := time.NewTimer(wake.Sub(now))
		select {
		case <-freed:
		case <-t.C:
		}
		t.Stop()
	}
}

var errRefused = errors.New("connection refused by the limits")

// refuse counts a refused connection and logs at most one line a minute.
func (l *Limiter) refuse(reason, client string) {
	l.metrics.refused.WithLabelValues(reason).Inc()
	l.mu.Lock()
	now := time.Now()
	logIt := now.Sub(l.warned) >= time.Minute
	if logIt {
		l.warned = now
	}
	open := l.open
	l.mu.Unlock()
	if logIt {
		l.log.Warn("refusing connections (logged at most once a minute; bss_connections_refused_total counts them)",
			"reason", reason, "client", client, "open", open, "max", l.opts.Max, "per_client", l.opts.PerClient)
	}
}

// wait puts c at the end of the waiting list; l.mu is held.
func (l *Limiter) wait(c *Conn, now time.Time) {
	l.unwait(c)
	c.since = now
	c.elem = l.waiting.PushBack(c)
}

// unwait takes c off the waiting list; l.mu is held.
func (l *Limiter) unwait(c *Conn) {
	if c.elem != nil {
		l.waiting.Remove(c.elem)
		c.elem = nil
	}
}

// release frees c's slot; l.mu is not held.
func (l *Limiter) release(c *Conn) {
	l.mu.Lock()
	l.unwait(c)
	l.open--
	if n := l.clients[c.key] - 1; n > 0 {
		l.clients[c.key] = n
	} else {
		delete(l.clients, c.key)
	}
	close(l.freed)
	l.freed = make(chan struct{})
	l.mu.Unlock()
	l.metrics.open.Dec()
}

// Conn is an admitted connection; closing it frees its slot.
type Conn struct {
	net.Conn
	l      *Limiter
	key    string
	elem   *list.Element // on l.waiting; guarded by l.mu
	since  time.Time     // when it began to wait; guarded by l.mu
	idleBy time.Time     // when idle near the cap: the latest read deadline; guarded by l.mu

	once   sync.Once
	closed bool // guarded by l.mu
}

// Close closes the connection and frees its slot, once.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.closed = true
		c.l.mu.Unlock()
		c.l.release(c)
	})
	return err
}

// SetReadDeadline sets the read deadline. The first one set after the
// connection went idle near the cap (the server's idle timeout) is
// brought forward to the end of the short idle time it gets there.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.l.mu.Lock()
	if by := c.idleBy; !by.IsZero() {
		if t.IsZero() || t.After(by) {
			t = by
		}
		c.idleBy = time.Time{}
	}
	c.l.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// listener is a net.Listener whose Accept admits connections through l.
type listener struct {
	net.Listener
	l *Limiter
}

// Accept returns the next connection within the limits. Connections past
// them are closed here and never reach the server.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, err := ln.l.admit(nc)
		if err == nil {
			return c, nil
		}
		_ = nc.Close()
	}
}

type metrics struct {
	open       prometheus.Gauge
	refused    *prometheus.CounterVec
	closedIdle prometheus.Counter
	shortIdle  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bss_connections_open", Help: "Client connections open now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_connections_refused_total",
			Help: "Connections closed as soon as they were accepted: past a client's share (per-client), or with every slot busy (capacity).",
		}, []string{"reason"}),
		closedIdle: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bss_connections_idle_closed_total",
			Help: "Idle or silent connections closed to make room for a new one at the connection limit.",
		}),
		shortIdle: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bss_connections_idle_shortened_total",
			Help: "Times a connection went idle near the connection limit and was given a short idle timeout.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.open, m.refused, m.closedIdle, m.shortIdle)
	}
	return m
}
