package auth

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/util/cache"
)

// reviewCache remembers the answers of one kind of review (TokenReview or
// SubjectAccessReview) by key, and makes concurrent misses of one key
// share a single review.
//
// A positive answer is kept for the allow TTL, a negative one for the deny
// TTL; an error is never kept, so the next request asks again. The cache
// holds at most a fixed number of entries and drops the least recently
// used. Safe for concurrent use.
type reviewCache[K comparable, V any] struct {
	lru    *cache.LRUExpireCache
	flight singleflight.Group
	// flightKey names a key for the singleflight group, which takes
	// strings; it must be one-to-one.
	flightKey func(K) string
	allowTTL  time.Duration
	denyTTL   time.Duration
	timeout   time.Duration
}

// reviewEntry is one remembered answer.
type reviewEntry[V any] struct {
	value V
	ok    bool
}

func newReviewCache[K comparable, V any](size int, allowTTL, denyTTL, timeout time.Duration, clock cache.Clock, flightKey func(K) string) *reviewCache[K, V] {
	return &reviewCache[K, V]{
		lru:       cache.NewLRUExpireCacheWithClock(size, clock),
		flightKey: flightKey,
		allowTTL:  allowTTL,
		denyTTL:   denyTTL,
		timeout:   timeout,
	}
}

// lookup returns the remembered answer for key, if there is one.
func (c *reviewCache[K, V]) lookup(key K) (reviewEntry[V], bool) {
	v, found := c.lru.Get(key)
	if !found {
		return reviewEntry[V]{}, false
	}
	e, _ := v.(reviewEntry[V])
	return e, true
}

// get returns the answer for key: remembered, or from review. hit tells
// which. Concurrent callers missing the same key wait for one review. The
// review runs with a context that keeps ctx's values but not its
// cancellation (a caller that goes away must not fail the others waiting
// on it), bounded by the cache's timeout; a caller whose ctx ends stops
// waiting with ctx's error.
func (c *reviewCache[K, V]) get(ctx context.Context, key K, review func(context.Context) (V, bool, error)) (e reviewEntry[V], hit bool, err error) {
	if e, ok := c.lookup(key); ok {
		return e, true, nil
	}
	ch := c.flight.DoChan(c.flightKey(key), func() (any, error) {
		// A review that ended just before this one began has filled in
		// the answer.
		if e, ok := c.lookup(key); ok {
			return e, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		v, ok, err := review(rctx)
		if err != nil {
			return nil, err
		}
		e := reviewEntry[V]{value: v, ok: ok}
		ttl := c.denyTTL
		if ok {
			ttl = c.allowTTL
		}
		c.lru.Add(key, e, ttl)
		return e, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return reviewEntry[V]{}, false, res.Err
		}
		e, _ := res.Val.(reviewEntry[V])
		return e, false, nil
	case <-ctx.Done():
		return reviewEntry[V]{}, false, fmt.Errorf("waiting for a review: %w", context.Cause(ctx))
	}
}
