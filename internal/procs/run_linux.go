package procs

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bss-api/bss-api/internal/notify"
)

// unavailable is empty: Linux has the /proc and cgroup files the index reads.
const unavailable = ""

// Run scans once, publishes the first snapshot, then keeps the index fresh
// until ctx is cancelled. It returns an error only when the first scan
// fails or the cgroup events cannot be read.
func (ix *Index) Run(ctx context.Context) error {
	defer close(ix.stopped)
	sc := newScanner(ix)
	w, err := newWatcher()
	if err != nil {
		ix.log.Warn("no cgroup events; relying on polls", "err", err)
	} else {
		sc.watch = w
	}
	// Subscribe before the first scan, so no process started during it is
	// missed.
	conn := ix.subscribe()
	closeAll := func() {
		if sc.watch != nil {
			_ = sc.watch.close()
		}
		if conn != nil {
			_ = conn.close()
		}
	}
	if err := sc.reconcile(); err != nil {
		closeAll()
		return err
	}

	events := make(chan []rawEvent, 16)
	var queue *eventQueue
	g, gctx := errgroup.WithContext(ctx)
	if sc.watch != nil {
		g.Go(func() error { return forwardEvents(gctx, sc.watch, events) })
	}
	if conn != nil {
		queue = newEventQueue()
		g.Go(func() error { return readEvents(gctx, conn, queue) })
	}
	g.Go(func() error {
		<-gctx.Done()
		closeAll() // unblocks the readers
		return nil
	})
	g.Go(func() error { return sc.loop(gctx, events, queue) })
	// Cancellation is a normal stop; the watcher's close error then is not.
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// subscribe opens the process event connection if the options ask for
// it, and records the source the index uses; nil means polling.
func (ix *Index) subscribe() *procConn {
	if !ix.opts.ProcessEvents {
		ix.setSource("polling (process events turned off)")
		return nil
	}
	conn, err := ix.openEvents()
	if err != nil {
		ix.log.Warn("no process events; new processes show at the next cgroup poll", "err", err)
		ix.setSource("polling (no netlink process events: " + err.Error() + ")")
		return nil
	}
	ix.setSource(sourceEvents)
	return conn
}

// sourceEvents is Source while process events arrive.
const sourceEvents = "netlink process events"

// eventGap is the least time between two event batches: a fork storm
// costs at most one batch (one re-read per process, one snapshot) per
// gap, however many events it sends, while a lone exec is applied at once.
// A batch that took long widens the gap to eventGapFactor times its
// duration, so applying events takes at most about a quarter of a core
// even where each snapshot is costly (many processes in pods).
const (
	eventGap       = 5 * time.Millisecond
	eventGapFactor = 4
)

// loop is the scanner's one goroutine: every read of /proc and the cgroup
// tree after the first scan happens here, so the scanner needs no locks.
// queue is nil without process events.
func (sc *scanner) loop(ctx context.Context, events <-chan []rawEvent, queue *eventQueue) error {
	interval := sc.opts.PollInterval
	var ready <-chan struct{}
	if queue != nil {
		interval, ready = sc.opts.EventPollInterval, queue.ready
	}
	poll := time.NewTicker(interval)
	defer poll.Stop()
	full := time.NewTicker(sc.opts.ReconcileInterval)
	defer full.Stop()
	gap := notify.NewBatch()
	defer gap.Stop()
	// When the last event batch was applied, and the gap before the next.
	var last time.Time
	wait := eventGap
	apply := func() {
		last = time.Now()
		ok := sc.takeEvents(queue)
		wait = max(eventGap, eventGapFactor*time.Since(last))
		if !ok {
			queue, ready = nil, nil
			poll.Reset(sc.opts.PollInterval)
		}
	}
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
		case req := <-sc.ix.admits:
			req.done <- sc.admit(req.pids)
		case <-ready:
			if left := wait - time.Since(last); left > 0 {
				gap.Arm(left)
				continue
			}
			apply()
		case <-gap.C():
			gap.Fired()
			if queue != nil {
				apply()
			}
		}
	}
}

// takeEvents applies what the queue holds. It reports false when the
// events have stopped for good, so the loop polls as it would without.
func (sc *scanner) takeEvents(q *eventQueue) bool {
	b, failed := q.take()
	if len(b.pending) > 0 || b.overflow {
		sc.applyEvents(b)
	}
	if failed != nil {
		sc.log.Error("process events stopped; polling instead", "err", failed)
		sc.ix.setSource("polling (netlink process events stopped: " + failed.Error() + ")")
		return false
	}
	return true
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
