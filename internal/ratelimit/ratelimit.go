// Package ratelimit limits requests per client: one token bucket
// (golang.org/x/time/rate) for each key, such as a client address, in a
// bounded map that forgets clients once they are idle.
package ratelimit

import (
	"container/list"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter allows each key perSecond requests a second on average and
// burst at once. It remembers at most maxKeys keys: a key idle long enough
// for its bucket to be full again is forgotten, which changes nothing for
// it; past maxKeys the least recently seen key is forgotten, which gives
// it a full bucket again. Safe for concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	idle    time.Duration // time for an empty bucket to fill

	mu      sync.Mutex
	clients map[string]*list.Element // of *client
	recent  list.List                // most recently seen first
}

type client struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter. perSecond must be positive, burst and maxKeys at
// least 1.
func New(perSecond float64, burst, maxKeys int) *Limiter {
	idle := time.Duration(math.Ceil(float64(burst) / perSecond * float64(time.Second)))
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys, idle: idle, clients: map[string]*list.Element{}}
}

// Allow takes one request of key at now. When the key has none left it
// returns false and how long until it has one; the refused request does
// not count.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	c := l.client(key, now)
	r := c.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// client returns key's entry, seen at now, making one if needed.
func (l *Limiter) client(key string, now time.Time) *client {
	if e, ok := l.clients[key]; ok {
		c := e.Value.(*client)
		c.seen = now
		l.recent.MoveToFront(e)
		return c
	}
	if l.recent.Len() >= l.maxKeys {
		oldest := l.recent.Back()
		delete(l.clients, oldest.Value.(*client).key)
		l.recent.Remove(oldest)
	}
	c := &client{key: key, lim: rate.NewLimiter(l.limit, l.burst), seen: now}
	l.clients[key] = l.recent.PushFront(c)
	return c
}

// forgetIdle drops the keys not seen for long enough to have a full
// bucket again: a new one would be the same.
func (l *Limiter) forgetIdle(now time.Time) {
	for e := l.recent.Back(); e != nil; e = l.recent.Back() {
		c := e.Value.(*client)
		if now.Sub(c.seen) < l.idle {
			return
		}
		delete(l.clients, c.key)
		l.recent.Remove(e)
	}
}

// Len returns how many keys are remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recent.Len()
}

// ClientKey is the key of the client at remoteAddr (an http.Request's
// RemoteAddr): its IPv4 address, or the /64 network of its IPv6 address,
// since one host commonly holds a whole /64. An address that does not
// parse is its own key.
func ClientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}
