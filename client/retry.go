package client

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how patiently a request is retried.
//
// What is retried:
//   - 429 and 503 answers, for every request: the server refused it
//     without acting on it (a rejected request changes nothing) and its
//     Retry-After, which is honoured, says when to come back. When
//     Retry-After is longer than MaxDelay the error is returned at once,
//     with its RetryAfter, for the caller to decide.
//   - Connection errors, for idempotent requests: every GET, PUT and
//     DELETE, a POST of the whole strategy list (replace-all), previews
//     and token requests. A DELETE retried after its first attempt took
//     effect answers ErrNotFound.
//   - POST /api/v1/metrics only when the connection failed before the
//     request was written: a sample the server may have stored is never
//     sent twice, because a duplicate would skew the counters' rates.
//   - 502 and 504 (a proxy in between), for idempotent requests.
//
// A 401 is retried once, at once, with a fresh token when the token source
// can be refreshed (WithTokenFile, WithSchedulerKey).
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 never retries.
	MaxAttempts int
	// BaseDelay is the first retry's delay; each further retry doubles it,
	// up to MaxDelay. Each delay is jittered: a random time between half
	// of it and all of it.
	BaseDelay, MaxDelay time.Duration
}

// DefaultRetry returns the policy of a client without WithRetry: 4
// attempts, 100 ms doubling to at most 5 s.
func DefaultRetry() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 5 * time.Second}
}

// NoRetry returns the policy of a single attempt.
func NoRetry() RetryPolicy { return RetryPolicy{MaxAttempts: 1} }

// backoff returns the jittered delay before retry number n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
