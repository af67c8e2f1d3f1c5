package audit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
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
	// maxRefusalKeys bounds the clients and routes tracked apart; past it,
	// new ones share one allowance until idle ones can be forgotten.
	maxRefusalKeys = 4096
)

// refusalKey is what one allowance is kept for: a client address (host)
// and a route.
type refusalKey struct {
	client, route string
}

type allowance struct {
	lim        *rate.Limiter
	suppressed int // refusals not recorded since the last one that was
}

// refusalLimiter decides which refusals are recorded. Safe for concurrent
// use; it never blocks.
type refusalLimiter struct {
	burst   int
	every   time.Duration
	maxKeys int

	mu        sync.Mutex
	keys      map[refusalKey]*allowance
	overflow  *allowance // shared by the keys that find keys full
	global    *rate.Limiter
	lastSweep time.Time
}

func newRefusalLimiter() *refusalLimiter {
	return &refusalLimiter{
		burst: refusalBurst, every: refusalEvery, maxKeys: maxRefusalKeys,
		keys:   map[refusalKey]*allowance{},
		global: rate.NewLimiter(globalRefusalRate, globalRefusalBurst),
	}
}

// admit reports whether a refusal for key at now is recorded, and if so
// how many of key's refusals were suppressed before it (the count then
// starts again). A suppressed refusal is counted for the next one.
func (l *refusalLimiter) admit(key refusalKey, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.allowance(key, now)
	if !a.lim.AllowN(now, 1) || !l.global.AllowN(now, 1) {
		a.suppressed++
		return false, 0
	}
	suppressed, a.suppressed = a.suppressed, 0
	return true, suppressed
}

// allowance returns key's allowance, making one if the table has room.
func (l *refusalLimiter) allowance(key refusalKey, now time.Time) *allowance {
	if a, ok := l.keys[key]; ok {
		return a
	}
	if len(l.keys) >= l.maxKeys && now.Sub(l.lastSweep) >= time.Second {
		l.sweep(now)
	}
	if len(l.keys) >= l.maxKeys {
		if l.overflow == nil {
			l.overflow = l.newAllowance()
		}
		return l.overflow
	}
	a := l.newAllowance()
	l.keys[key] = a
	return a
}

func (l *refusalLimiter) newAllowance() *allowance {
	return &allowance{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
}

// sweep forgets the allowances that are as good as new: full again, with
// nothing suppressed. At most once a second, so that a flood from ever
// new addresses does not cost a sweep per request.
func (l *refusalLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, a := range l.keys {
		if a.suppressed == 0 && a.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
}
