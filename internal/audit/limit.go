package audit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/bss-api/bss-api/internal/ratelimit"
)

// How many refusals are recorded one by one. Past these bounds refusals
// are only counted: a flood of bad requests costs neither a database
// write each nor the store's room.
const (
	// refusalBurst refusals of one client and route are recorded at once,
	refusalBurst = 10
	// then one per refusalEvery.
	refusalEvery = time.Minute
	// Across all clients, at most globalRefusalRate per second (after a
	// burst of globalRefusalBurst).
	globalRefusalRate  = 10
	globalRefusalBurst = 50
	// maxRefusalKeys bounds the clients and routes tracked apart, both for
	// their allowance and for their count of suppressed refusals.
	maxRefusalKeys = 4096
)

// refusalKey is what one allowance is kept for: a client (its
// ratelimit.ClientKey: an IPv4 address or an IPv6 /64) and a route.
func refusalKey(remoteAddr, route string) string {
	return ratelimit.ClientKey(remoteAddr) + " " + route
}

// pending counts the refusals of one key not recorded since its last
// record.
type pending struct {
	n    int
	last time.Time
}

// refusalLimiter decides which refusals are recorded. Safe for concurrent
// use; it never blocks.
type refusalLimiter struct {
	perKey *ratelimit.Limiter
	idle   time.Duration // how long an allowance takes to fill again

	mu         sync.Mutex
	global     *rate.Limiter
	suppressed map[string]pending
	maxKeys    int
	lastSweep  time.Time
}

func newRefusalLimiter() *refusalLimiter {
	return &refusalLimiter{
		perKey:     ratelimit.New(1/refusalEvery.Seconds(), refusalBurst, maxRefusalKeys),
		idle:       refusalBurst * refusalEvery,
		global:     rate.NewLimiter(globalRefusalRate, globalRefusalBurst),
		suppressed: map[string]pending{},
		maxKeys:    maxRefusalKeys,
	}
}

// admit reports whether a refusal for key at now is recorded, and if so
// how many of key's refusals were suppressed before it (the count then
// starts again). A suppressed refusal is counted for key's next record,
// as long as there is room to remember the count.
func (l *refusalLimiter) admit(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok, _ := l.perKey.Allow(key, now); ok && l.global.AllowN(now, 1) {
		p := l.suppressed[key]
		delete(l.suppressed, key)
		return true, p.n
	}
	if _, ok := l.suppressed[key]; !ok && len(l.suppressed) >= l.maxKeys {
		l.sweep(now)
	}
	if p, ok := l.suppressed[key]; ok || len(l.suppressed) < l.maxKeys {
		l.suppressed[key] = pending{n: p.n + 1, last: now}
	}
	return false, 0
}

// sweep forgets the counts of keys quiet for long enough to have a full
// allowance again, at most once a second, so that a flood from ever new
// addresses does not cost a sweep per request. Their refusals stay
// counted in /metrics; only their next record will not say how many.
func (l *refusalLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, p := range l.suppressed {
		if now.Sub(p.last) >= l.idle {
			delete(l.suppressed, k)
		}
	}
}
