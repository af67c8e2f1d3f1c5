package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
)

// FlagConcurrentPreviews names the bound on previews and explanations
// resolving at once.
const FlagConcurrentPreviews = "--max-concurrent-previews"

// Resolution slots' defaults (ServiceOptions).
const (
	defaultResolutions       = 2
	defaultResolutionWait    = time.Second
	defaultResolutionTimeout = 10 * time.Second
)

// resolutionSlots bound the previews and explanations that resolve at
// once. Each resolves the whole node on demand, in its caller's
// goroutine, so without a bound a burst of them would take every core
// (and the memory of every compiled copy) from the scheduler's own
// requests. A request that cannot start within wait is refused with 503
// and Retry-After: the server, not the caller, is busy, and every
// caller's own rate limit has already let it through.
type resolutionSlots struct {
	sem     chan struct{}
	wait    time.Duration
	timeout time.Duration
}

func newResolutionSlots(n int, wait, timeout time.Duration) resolutionSlots {
	if n <= 0 {
		n = defaultResolutions
	}
	if wait <= 0 {
		wait = defaultResolutionWait
	}
	if timeout <= 0 {
		timeout = defaultResolutionTimeout
	}
	return resolutionSlots{sem: make(chan struct{}, n), wait: wait, timeout: timeout}
}

// retryIn is the Retry-After of a refusal.
const retryIn = time.Second

// acquire takes a slot for a resolution of what ("previews"), waiting at
// most the slots' wait. The context it returns ends at the timeout;
// release gives the slot back and must be called once.
func (r resolutionSlots) acquire(ctx context.Context, what string) (context.Context, func(), error) {
	select {
	case r.sem <- struct{}{}:
	default:
		t := time.NewTimer(r.wait)
		defer t.Stop()
		select {
		case r.sem <- struct{}{}:
		case <-t.C:
			return nil, nil, &apperr.Error{Code: apperr.Unavailable, RetryAfter: retryIn, Message: fmt.Sprintf(
				"too many %s at once: at most %d previews and explanations resolve at a time (%s); retry in %d s",
				what, cap(r.sem), FlagConcurrentPreviews, int(retryIn.Seconds()))}
		case <-ctx.Done():
			return nil, nil, apperr.Wrap(apperr.Unavailable, ctx.Err(), "the request ended while it waited to resolve")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	return ctx, func() {
		cancel()
		<-r.sem
	}, nil
}

// stopped turns the error of a resolution that its context stopped into
// the answer.
func (r resolutionSlots) stopped(err error, what string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &apperr.Error{Code: apperr.Unavailable, RetryAfter: retryIn, Err: err, Message: fmt.Sprintf(
			"the %s took longer than %s and was stopped; retry when the server is less busy", what, r.timeout)}
	}
	return apperr.Wrap(apperr.Unavailable, err, "the "+what+" was stopped: the request ended")
}
