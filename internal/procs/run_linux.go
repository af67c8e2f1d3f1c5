package procs

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// unavailable is empty: Linux has the /proc and cgroup files the index reads.
const unavailable = ""

// Run scans once, publishes the first snapshot, then keeps the index fresh
// until ctx is cancelled. It returns an error only when the first scan
// fails or the cgroup events cannot be read.
func (ix *Index) Run(ctx context.Context) error {
	sc := newScanner(ix)
	w, err := newWatcher()
	if err != nil {
		ix.log.Warn("no cgroup events; relying on polls", "err", err)
	} else {
		sc.watch = w
	}
	if err := sc.reconcile(); err != nil {
		if sc.watch != nil {
			_ = sc.watch.close()
		}
		return err
	}

	events := make(chan []rawEvent, 16)
	g, gctx := errgroup.WithContext(ctx)
	if sc.watch != nil {
		g.Go(func() error { return forwardEvents(gctx, sc.watch, events) })
		g.Go(func() error {
			<-gctx.Done()
			return sc.watch.close() // unblocks forwardEvents' read
		})
	}
	g.Go(func() error { return sc.loop(gctx, events) })
	// Cancellation is a normal stop; the watcher's close error then is not.
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// loop is the scanner's one goroutine: every read of /proc and the cgroup
// tree after the first scan happens here, so the scanner needs no locks.
func (sc *scanner) loop(ctx context.Context, events <-chan []rawEvent) error {
	poll := time.NewTicker(sc.opts.PollInterval)
	defer poll.Stop()
	full := time.NewTicker(sc.opts.ReconcileInterval)
	defer full.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			sc.poll()
		case <-full.C:
			sc.reconcileOrLog()
		case raw := <-events:
			if sc.handleEvents(raw) {
				sc.reconcileOrLog()
			} else {
				// A cgroup created or removed means processes came or
				// went: poll now rather than at the next tick.
				sc.poll()
			}
		}
	}
}

// reconcileOrLog runs a full scan from the loop, where a failed scan keeps
// the last snapshot rather than stopping the index: the next one may work.
func (sc *scanner) reconcileOrLog() {
	if err := sc.reconcile(); err != nil {
		sc.log.Error("process scan failed", "err", err)
	}
}

// forwardEvents reads inotify events on its own goroutine, since a read
// blocks, and hands them to the loop until the watcher is closed.
func forwardEvents(ctx context.Context, w *watcher, out chan<- []rawEvent) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.read(buf)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err != nil {
			return nil //nolint:nilerr // closed on purpose by the shutdown
		}
		select {
		case out <- decode(buf[:n]):
		case <-ctx.Done():
			return nil
		}
	}
}

// handleEvents updates the watched and polled directories. It returns true
// when events were lost and a full rescan is needed.
func (sc *scanner) handleEvents(raw []rawEvent) (rescan bool) {
	for _, ev := range sc.watch.resolve(raw) {
		switch {
		case ev.overflow:
			rescan = true
		case ev.created:
			if h, ok := sc.hier.of(ev.path); ok {
				sc.walk(h, ev.path, 0)
			}
		default:
			sc.watch.forget(ev.path)
			delete(sc.dirs, ev.path)
		}
	}
	return rescan
}
