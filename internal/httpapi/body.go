package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/bss-api/bss-api/internal/apperr"
)

// BodyLimits bound request bodies on their way in, beyond the size limit
// (Config.MaxBodyBytes). Zero fields set no bound.
type BodyLimits struct {
	// MinRate is the average rate, in bytes per second, below which a body
	// is cut off (408) once Grace has passed since its headers.
	MinRate int64
	// Grace is how long a body may take before MinRate applies (default
	// BodyRateGrace).
	Grace time.Duration
	// Timeout bounds the time from a request's headers to the end of its
	// body (the server's --read-timeout, which the rate's deadlines never
	// extend).
	Timeout time.Duration
	// InFlight bounds the body bytes held by all requests at once. The
	// first bodyFreeBytes of each body are not counted, so small requests
	// (a scheduler's metrics) never wait; a body that would pass the bound
	// waits for others to finish (up to budgetWait, and never past its own
	// deadline), then gets 503.
	InFlight int64
}

const (
	// BodyRateGrace is the default BodyLimits.Grace: a body's first bytes
	// may be slow to come (a TCP window opening, a client that sends its
	// headers before its body is ready).
	BodyRateGrace = 5 * time.Second
	// bodyFreeBytes of every body are neither counted against InFlight nor
	// preallocated beyond: what one connection may hold regardless.
	bodyFreeBytes = 4 << 10
	// budgetWait is how long a body waits for room in InFlight.
	budgetWait = 5 * time.Second
)

// bodyGuard applies BodyLimits to every request that has a body. Its
// deadlines are on the wall clock, as the connection's are.
type bodyGuard struct {
	limits BodyLimits
	budget *semaphore.Weighted // nil: no InFlight bound
}

func newBodyGuard(l BodyLimits) *bodyGuard {
	if l.MinRate > 0 && l.Grace <= 0 {
		l.Grace = BodyRateGrace
	}
	g := &bodyGuard{limits: l}
	if l.InFlight > 0 {
		g.budget = semaphore.NewWeighted(l.InFlight)
	}
	return g
}

// wrap replaces the body of each request that has one with a reader that
// keeps the limits, and gives its share of InFlight back when next
// returns.
func (g *bodyGuard) wrap(next http.Handler) http.Handler {
	if g.limits == (BodyLimits{}) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &guardedBody{ReadCloser: r.Body, g: g, ctx: r.Context(), w: w, start: time.Now()}
		b.timed = g.limits.MinRate > 0 || g.limits.Timeout > 0
		r.Body = b
		defer b.finish()
		next.ServeHTTP(w, r)
	})
}

// guardedBody is a request body read under the limits. Its errors are
// *apperr.Error values that readJSONBody passes on as they are.
type guardedBody struct {
	io.ReadCloser
	g        *bodyGuard
	ctx      context.Context
	w        http.ResponseWriter // for its connection's read deadline
	start    time.Time
	read     int64 // bytes read so far
	held     int64 // bytes of the budget held
	timed    bool  // reads get deadlines (false too when the writer has none)
	deadline bool  // a read deadline of ours is set
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if err := b.reserve(int64(len(p))); err != nil {
		return 0, err
	}
	if b.timed {
		if err := http.NewResponseController(b.w).SetReadDeadline(b.nextDeadline()); err == nil {
			b.deadline = true
		} else {
			b.timed = false // not a connection: nothing to time
		}
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, b.tooSlow()
	}
	if errors.Is(err, io.EOF) && b.deadline {
		// The body is in: the connection's reads are the server's again
		// (it sets its own deadline before the next request).
		_ = http.NewResponseController(b.w).SetReadDeadline(time.Time{})
		b.deadline = false
	}
	return n, err
}

// nextDeadline is when the next byte must have come: at MinRate on
// average since the headers, after the grace, and within Timeout.
func (b *guardedBody) nextDeadline() time.Time {
	l := b.g.limits
	var d time.Time
	if l.MinRate > 0 {
		d = b.start.Add(l.Grace + time.Duration(float64(b.read+1)/float64(l.MinRate)*float64(time.Second)))
	}
	if l.Timeout > 0 {
		if t := b.start.Add(l.Timeout); d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d
}

func (b *guardedBody) tooSlow() error {
	took := time.Since(b.start).Round(time.Millisecond)
	l := b.g.limits
	if l.Timeout > 0 && took >= l.Timeout {
		return apperr.Errorf(apperr.Timeout, "the request body was not complete within %s (%d bytes read)", l.Timeout, b.read)
	}
	return apperr.Errorf(apperr.Timeout, "the request body came slower than %d bytes per second (%d bytes in %s)", l.MinRate, b.read, took)
}

// reserve takes from the budget what a read of up to n more bytes may
// hold beyond the free bytes.
func (b *guardedBody) reserve(n int64) error {
	if b.g.budget == nil {
		return nil
	}
	need := max(b.read+n-bodyFreeBytes, 0) - b.held
	if need <= 0 {
		return nil
	}
	if b.g.budget.TryAcquire(need) {
		b.held += need
		return nil
	}
	giveUp := time.Now().Add(budgetWait)
	if d := b.nextDeadline(); !d.IsZero() && d.Before(giveUp) {
		giveUp = d
	}
	ctx, cancel := context.WithDeadline(b.ctx, giveUp)
	defer cancel()
	if err := b.g.budget.Acquire(ctx, need); err != nil {
		return &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second,
			Message: fmt.Sprintf("the server is reading %d bytes of other request bodies, its limit; retry", b.g.limits.InFlight)}
	}
	b.held += need
	return nil
}

// finish gives the budget back once the handler is done with the body.
func (b *guardedBody) finish() {
	if b.held > 0 {
		b.g.budget.Release(b.held)
		b.held = 0
	}
}

// readJSONBody reads a JSON request body within limit bytes. It answers 415
// unless the Content-Type is application/json, and 413 for a body over the
// limit. Every handler that reads a body reads it here.
//
// A missing Content-Type is refused too: a browser sends a cross-site
// request without a preflight only when its type is absent (a Blob),
// text/plain or a form's, so requiring application/json makes every
// cross-site write ask CORS first, and CORS admits no origin unless one is
// configured.
//
// The buffer grows as bytes arrive, never ahead of them: a body that
// announces a megabyte and sends ten bytes a second holds what it sent,
// not what it announced.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	tooLarge := func() error { // built only when needed: this is every POST's path
		return apperr.Errorf(apperr.TooLarge, "request body is larger than the limit of %d bytes", limit)
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	size := limit + 1 // read one byte past the limit to detect overflow
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), size)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		if _, ok := errors.AsType[*apperr.Error](err); ok {
			return nil, err
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "could not read the request body")
	}
	return body, nil
}

// readAll reads r to the end. The buffer starts at up to bodyFreeBytes
// (all of a small body announced with its length) and doubles as it fills,
// up to expected bytes.
func readAll(r io.Reader, expected int64) ([]byte, error) {
	buf := make([]byte, 0, min(expected, bodyFreeBytes))
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), max(min(2*int64(cap(buf)), expected), int64(cap(buf))+512))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
