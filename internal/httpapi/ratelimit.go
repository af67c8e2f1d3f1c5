package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/ratelimit"
)

// writeCallers bounds how many callers the strategy-write limit remembers
// at once.
const writeCallers = 10_000

// isStrategyWrite reports whether a route with rule writes strategies
// (preview included, which costs as much): those are the rate-limited ones.
func isStrategyWrite(rule auth.Rule) bool {
	switch rule.Permission() {
	case auth.WriteStrategies, auth.DeleteStrategies, auth.PreviewStrategies:
		return true
	}
	return false
}

// writeLimit is the rate limit of strategy writes, one bucket per caller
// shared by every write route.
type writeLimit struct {
	callers   *ratelimit.Limiter
	perSecond float64
	burst     int
	now       func() time.Time
}

func newWriteLimit(perSecond float64, burst int, now func() time.Time) *writeLimit {
	return &writeLimit{callers: ratelimit.New(perSecond, burst, writeCallers), perSecond: perSecond, burst: burst, now: now}
}

// wrap answers 429 (with Retry-After) to a caller past its rate of
// strategy writes, before next sees the request, and reports the refusal
// to audits. It runs after the Guard, so a refused request costs nothing:
// the caller is the identity in the request's context (method and name),
// or the client address for the anonymous operator of a server without
// credentials.
func (l *writeLimit) wrap(rs responder, audits refusals, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.callers.Allow(callerKey(r), l.now()); !ok {
			err := &apperr.Error{Code: apperr.TooMany, RetryAfter: wait,
				Message: fmt.Sprintf("too many strategy writes: at most %g a second (%d at once) per caller; retry in %d s",
					l.perSecond, l.burst, int(math.Ceil(wait.Seconds())))}
			id, _ := auth.IdentityFrom(r.Context())
			audits.refused(r, id, err)
			rs.error(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// callerKey names who sent r for rate limiting.
func callerKey(r *http.Request) string {
	if id, ok := auth.IdentityFrom(r.Context()); ok && id.Method != auth.MethodNone {
		return string(id.Method) + "/" + id.Name
	}
	return "addr/" + ratelimit.ClientKey(r.RemoteAddr)
}
