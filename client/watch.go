package client

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// WatchOptions tune WatchStrategies and WatchPodPIDs. The zero value is
// ready to use.
type WatchOptions struct {
	// Wait is how long the server may hold each request (default 1m; the
	// server caps it, 5m by default).
	Wait time.Duration
	// MinInterval is the least time between the starts of two requests
	// that brought no change (default 1s). It keeps a watch from spinning
	// on a server that answers at once: one without blocking queries (the
	// watch then polls every MinInterval), or one shutting down.
	MinInterval time.Duration
	// OnError, if set, is told of every failed request before the watch
	// retries it (503 while the server cannot resolve completely, 429,
	// other 5xx, connection errors). The watch keeps the previous answer
	// and retries with the client's backoff, honouring Retry-After,
	// without a bound on the attempts.
	OnError func(error)
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Wait <= 0 {
		o.Wait = time.Minute
	}
	if o.MinInterval <= 0 {
		o.MinInterval = time.Second
	}
	return o
}

// WatchStrategies calls fn with the resolved strategies, then with every
// answer that differs from the one before, until ctx is done or fn or the
// server fails it. It uses blocking queries (a wait with the last ETag), so
// a change reaches fn as soon as the server has it.
//
// A 304 keeps the previous answer; so do 503 (the server is starting and
// cannot answer completely yet), 429, other 5xx answers and connection
// errors, which are retried with backoff for as long as it takes (see
// WatchOptions.OnError). Any other error answer (400, 401, 403) and fn's
// error end the watch and are returned; ctx's end returns its error.
//
// fn runs on the caller's goroutine, one answer at a time; the next
// request starts when fn returns. opts take Verbose; the watch sets the
// wait and ETag itself.
func (c *Client) WatchStrategies(ctx context.Context, w WatchOptions, fn func(*Strategies) error, opts ...QueryOption) error {
	q := collect(opts)
	return watch(ctx, c, w, func(ctx context.Context, etag string, wait time.Duration) (*Strategies, string, error) {
		q.etag, q.wait = etag, wait
		s, err := c.strategies(ctx, q, true)
		if err != nil {
			return nil, "", err
		}
		return s, s.ETag, nil
	}, fn)
}

// WatchPodPIDs is WatchStrategies for GET /api/v1/pods/pids narrowed by f.
func (c *Client) WatchPodPIDs(ctx context.Context, f PodFilter, w WatchOptions, fn func(*Pods) error) error {
	var q query
	return watch(ctx, c, w, func(ctx context.Context, etag string, wait time.Duration) (*Pods, string, error) {
		q.etag, q.wait = etag, wait
		p, err := c.podPIDs(ctx, f, q, true)
		if err != nil {
			return nil, "", err
		}
		return p, p.ETag, nil
	}, fn)
}

// fetchFunc makes one request of a watch: with etag, a blocking query that
// waits up to wait; without, an immediate one.
type fetchFunc[T any] func(ctx context.Context, etag string, wait time.Duration) (T, string, error)

func watch[T any](ctx context.Context, c *Client, w WatchOptions, fetch fetchFunc[T], fn func(T) error) error {
	w = w.withDefaults()
	backoff := c.retry
	if backoff.BaseDelay <= 0 { // NoRetry: still never spin on a dead server
		backoff = DefaultRetry()
	}
	etag, failures := "", 0
	for {
		start := c.now()
		wait := time.Duration(0)
		if etag != "" {
			wait = w.Wait
		}
		v, tag, err := fetch(ctx, etag, wait)
		switch {
		case err == nil:
			failures = 0
			if tag != etag || tag == "" {
				if err := fn(v); err != nil {
					return err
				}
				etag = tag
				if tag != "" {
					continue // a change: wait for the next one at once
				}
			}
		case errors.Is(err, ErrNotModified):
			failures = 0
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case transient(err):
			failures++
			if w.OnError != nil {
				w.OnError(err)
			}
			delay := backoff.backoff(failures)
			if apiErr := (*APIError)(nil); errors.As(err, &apiErr) {
				delay = max(delay, apiErr.RetryAfter)
			}
			if err := sleep(ctx, delay); err != nil {
				return err
			}
			continue
		default:
			return err
		}
		// No change: pace the next request so a server that answers at
		// once is polled, not hammered.
		if err := sleep(ctx, w.MinInterval-c.now().Sub(start)); err != nil {
			return err
		}
	}
}

// transient reports whether a watch should keep its answer and retry after
// err: connection errors, 408, 429 and 5xx.
func transient(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	s := apiErr.StatusCode
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500
}
