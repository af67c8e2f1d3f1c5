package procs

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// What an event says to re-read about a process (bits).
const (
	evProcess uint8 = 1 << iota // it forked, exec'd or was renamed
	evThreads                   // one of its threads started or ended
	// evExit: its last event says it exited. The kernel sends the exit
	// event from the exiting task itself, before /proc shows it dead, so
	// the event is believed rather than checked.
	evExit
)

// maxPending bounds the processes an event batch may name: past it the
// batch is dropped for a full scan, which costs less than re-reading them
// one by one and keeps the queue's memory bounded in a fork storm.
const maxPending = 1 << 15

// eventQueue coalesces process events between the goroutine that reads
// them and the scanner's loop: however many events name a process before
// the loop looks, it re-reads that process once. Safe for concurrent use.
type eventQueue struct {
	mu      sync.Mutex
	pending map[int]uint8 // TGID → evProcess|evThreads|evExit
	// exited holds threads (not processes) whose exit events came, which
	// /proc may still list when the batch re-reads their process.
	exited   map[int]bool
	overflow bool          // events were lost: rescan
	failed   error         // the reader stopped: poll instead
	ready    chan struct{} // holds one wake-up for the loop
}

func newEventQueue() *eventQueue {
	return &eventQueue{pending: map[int]uint8{}, exited: map[int]bool{}, ready: make(chan struct{}, 1)}
}

// add records evs and wakes the loop.
func (q *eventQueue) add(evs []procEvent) {
	q.mu.Lock()
	for _, ev := range evs {
		if q.overflow {
			break
		}
		switch {
		case ev.pid != ev.tgid && ev.what == procEventComm:
			continue // a thread's name: the index shows processes' names
		case ev.pid != ev.tgid:
			q.pending[ev.tgid] |= evThreads
			if ev.what == procEventExit {
				q.exited[ev.pid] = true
			} else {
				delete(q.exited, ev.pid)
			}
		default:
			// An exit wins over the other events in the batch: a child's
			// fork event may come after its exit event, and a PID is not
			// reused within a batch's few milliseconds.
			what := evProcess
			if ev.what == procEventExit {
				what = evExit
			}
			q.pending[ev.tgid] |= what
		}
		if len(q.pending)+len(q.exited) > maxPending {
			q.lostLocked()
		}
	}
	q.mu.Unlock()
	q.wake()
}

// lost records that events were lost: the loop rescans instead.
func (q *eventQueue) lost() {
	q.mu.Lock()
	q.lostLocked()
	q.mu.Unlock()
	q.wake()
}

func (q *eventQueue) lostLocked() {
	q.overflow = true
	clear(q.pending)
	clear(q.exited)
}

// fail records that no more events will come.
func (q *eventQueue) fail(err error) {
	q.mu.Lock()
	q.failed = err
	q.mu.Unlock()
	q.wake()
}

func (q *eventQueue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take hands the loop what accumulated, and starts a new batch. The map
// returned belongs to the caller.
func (q *eventQueue) take() (b eventBatch, failed error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b = eventBatch{pending: q.pending, exited: q.exited, overflow: q.overflow}
	q.pending, q.exited, q.overflow = make(map[int]uint8, len(b.pending)), map[int]bool{}, false
	return b, q.failed
}

// eventBatch is what the queue held when the loop took it.
type eventBatch struct {
	pending  map[int]uint8
	exited   map[int]bool
	overflow bool // events were lost: rescan instead
}

// readEvents reads process events on its own goroutine, since a read
// blocks, and queues them until the connection is closed. A buffer
// overrun (ENOBUFS) is queued as lost events; any other read error ends
// the events, and the loop polls as it would without them.
func readEvents(ctx context.Context, c *procConn, q *eventQueue) error {
	var evs []procEvent
	for {
		var err error
		evs, err = c.read(evs[:0])
		switch {
		case err == nil:
			q.add(evs)
		case errors.Is(err, unix.ENOBUFS):
			q.lost()
		case ctx.Err() != nil:
			return nil //nolint:nilerr // closed on purpose by the shutdown
		default:
			q.fail(err)
			return nil
		}
	}
}

// applyEvents re-reads the processes a batch of events names and
// publishes the result; lost events make it rescan everything instead.
func (sc *scanner) applyEvents(b eventBatch) {
	if b.overflow {
		sc.ix.overflows.Add(1)
		sc.log.Warn("process events were lost (the socket's buffer overran); rescanning")
		sc.reconcileOrLog()
		return
	}
	watched := sc.watchedSet()
	podChanged, hostChanged := false, false
	for pid, what := range b.pending {
		var pc, hc bool
		switch {
		case what&evExit != 0:
			pc, hc = sc.drop(pid)
		case what&evProcess != 0:
			pc, hc = sc.refresh(pid)
		default:
			pc, hc = sc.refreshThreads(pid, b.exited)
		}
		podChanged = podChanged || pc
		// Processes outside pods matter to readers only when explicit
		// strategies target them; the others are published with the next
		// snapshot rather than in one of their own.
		hostChanged = hostChanged || (hc && watched[pid])
	}
	if podChanged || hostChanged {
		sc.publish(hostChanged)
	}
}

// watchedSet returns the PIDs strategies target (see Index.WatchPIDs).
func (sc *scanner) watchedSet() map[int]bool {
	w := sc.ix.watched.Load()
	if w == nil || len(*w) == 0 {
		return nil
	}
	m := make(map[int]bool, len(*w))
	for _, pid := range *w {
		m[pid] = true
	}
	return m
}
