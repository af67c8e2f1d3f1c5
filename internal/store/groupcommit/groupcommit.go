// Package groupcommit batches metric appends from many goroutines into
// one transaction: each caller returns once the transaction holding its
// records has committed, and one commit (one fsync) serves them all.
package groupcommit

import (
	"context"
	"errors"

	"github.com/bss-api/bss-api/internal/metrics"
)

// ErrClosed is returned for appends made or pending after Run stopped.
var ErrClosed = errors.New("the store is shutting down")

// maxGroup bounds the requests committed together.
const maxGroup = 512

type request struct {
	recs []metrics.Record
	done chan error
}

// Committer serialises commits. Append is safe for concurrent use; Run
// must be running for appends to complete.
type Committer struct {
	commit func(ctx context.Context, recs []metrics.Record) error
	ch     chan request
	closed chan struct{}
}

// New returns a Committer that writes with commit, which must store all
// records in one transaction or none.
func New(commit func(ctx context.Context, recs []metrics.Record) error) *Committer {
	return &Committer{commit: commit, ch: make(chan request, 1024), closed: make(chan struct{})}
}

// Append queues recs and waits for the commit that holds them. If ctx ends
// first the commit still happens; the caller just stops waiting.
func (c *Committer) Append(ctx context.Context, recs []metrics.Record) error {
	req := request{recs: recs, done: make(chan error, 1)}
	select {
	case c.ch <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		// Run answers every request it drained before closing; one that
		// slipped into the queue after that gets no answer but this.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// Run commits until ctx is cancelled, then fails what is still queued.
// Every request queued when a commit starts goes into it; waiting for
// more than are queued made throughput worse.
func (c *Committer) Run(ctx context.Context) {
	defer close(c.closed)
	for {
		select {
		case <-ctx.Done():
			c.drain()
			return
		case first := <-c.ch:
			batch := []request{first}
			n := len(first.recs)
		collect:
			for len(batch) < maxGroup {
				select {
				case r := <-c.ch:
					batch = append(batch, r)
					n += len(r.recs)
				default:
					break collect
				}
			}
			recs := make([]metrics.Record, 0, n)
			for _, r := range batch {
				recs = append(recs, r.recs...)
			}
			err := c.commit(ctx, recs)
			for _, r := range batch {
				r.done <- err
			}
		}
	}
}

func (c *Committer) drain() {
	for {
		select {
		case r := <-c.ch:
			r.done <- ErrClosed
		default:
			return
		}
	}
}
