package procs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/notify"
)

// Options configure an Index.
type Options struct {
	ProcRoot   string // the host's /proc
	CgroupRoot string // the host's /sys/fs/cgroup
	// ReconcileInterval is the period of the full /proc scan that corrects
	// anything the events and polls missed.
	ReconcileInterval time.Duration
	// PollInterval is the period of the cheap poll of every known container
	// cgroup's cgroup.procs, which sees processes enter and leave pods.
	PollInterval time.Duration
	// ProcessEvents subscribes to the kernel's process events (the netlink
	// process connector: fork, exec, exit) where the server may, so the
	// index sees a process the moment it starts, execs or exits; where it
	// may not, the index polls. Polls and full scans go on either way, to
	// correct what events cannot show (a process moved between cgroups).
	ProcessEvents bool
	// EventPollInterval replaces PollInterval while process events arrive
	// (zero: PollInterval): polls then only catch moves between cgroups,
	// so they can be rarer, which lowers the idle cost.
	EventPollInterval time.Duration
	Logger            *slog.Logger
	Now               func() time.Time
}

// Index keeps a versioned snapshot of which processes run in which pods.
// Snapshot, Subscribe, WatchPIDs and Health are safe for concurrent use;
// Run must be called once, and owns all scanning (see scanner).
//
// On systems other than Linux there is no /proc or cgroup tree to read:
// Run publishes one empty snapshot and Health says why, so the rest of
// the server still starts (for development on a laptop).
type Index struct {
	opts Options
	log  *slog.Logger
	// unavailable is why processes cannot be listed on this system; ""
	// where they can.
	unavailable string
	snap        atomic.Pointer[Snapshot]

	notify.Notifier // after each new snapshot

	watched atomic.Pointer[[]int] // PIDs outside pods to check at every poll
	// watchErrs counts cgroup directories that could not be watched (say,
	// at the inotify watch limit); written by Run, read by Health.
	watchErrs atomic.Int64

	// source says where news of processes comes from, for Health; set by
	// Run. overflows counts event batches lost to a full socket buffer
	// (each one answered with a full scan).
	source    atomic.Pointer[string]
	overflows atomic.Int64
	// openEvents opens the process event connection (tests replace it).
	openEvents openEventsFunc

	admits  chan admitRequest // to Run's loop
	stopped chan struct{}     // closed when Run returns
}

// admitRequest asks Run's loop to look PIDs up in /proc now; it answers
// on done with the sequence number of a snapshot that includes them.
type admitRequest struct {
	pids []int
	done chan uint64
}

// errStopped is what AdmitPIDs returns once Run has returned.
var errStopped = errors.New("the process index has stopped")

// New returns an index; it reads nothing until Run.
func New(opts Options) *Index {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.EventPollInterval <= 0 {
		opts.EventPollInterval = opts.PollInterval
	}
	return &Index{opts: opts, log: opts.Logger, unavailable: unavailable, openEvents: defaultOpenEvents,
		admits: make(chan admitRequest), stopped: make(chan struct{})}
}

// Snapshot returns the current snapshot, or nil before the first scan.
func (ix *Index) Snapshot() *Snapshot { return ix.snap.Load() }

// WatchPIDs sets PIDs that are checked at every poll, not only at full
// scans, even outside pods: the strategy resolver names the PIDs explicit
// strategies target, so their exit or reuse shows within one poll.
func (ix *Index) WatchPIDs(pids []int) {
	c := slices.Clone(pids)
	ix.watched.Store(&c)
}

// AdmitPIDs looks pids up in /proc now, rather than at the next poll or
// scan, and adds to the index those it has not seen yet. It returns the
// Seq of a published snapshot that includes every one of them that is
// alive, once there is one: a reader holding a snapshot with that Seq or
// a later one sees them (until they exit). It waits for Run to take the
// request, and returns ctx's error, or an error once Run has returned.
func (ix *Index) AdmitPIDs(ctx context.Context, pids []int) (uint64, error) {
	req := admitRequest{pids: slices.Clone(pids), done: make(chan uint64, 1)}
	select {
	case ix.admits <- req:
	case <-ix.stopped:
		return 0, errStopped
	case <-ctx.Done():
		return 0, fmt.Errorf("admit processes: %w", ctx.Err())
	}
	select {
	case seq := <-req.done:
		return seq, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("admit processes: %w", ctx.Err())
	}
}

// Source says where the index learns of processes: "netlink process
// events", or "polling" with the reason events are not used; "" before
// Run has decided.
func (ix *Index) Source() string {
	if s := ix.source.Load(); s != nil {
		return *s
	}
	return ""
}

// EventOverflows counts the times process events were lost because the
// kernel found the socket's buffer full; each one cost a full scan.
func (ix *Index) EventOverflows() int64 { return ix.overflows.Load() }

func (ix *Index) setSource(s string) { ix.source.Store(&s) }

// store publishes s and wakes the subscribers.
func (ix *Index) store(s *Snapshot) {
	if prev := ix.snap.Load(); prev != nil {
		s.Seq = prev.Seq + 1
	} else {
		s.Seq = 1
	}
	ix.snap.Store(s)
	ix.Changed()
}

// runUnavailable is Run where processes cannot be listed: readers get an
// empty snapshot at once instead of waiting for a scan that never comes.
func (ix *Index) runUnavailable(ctx context.Context) error {
	ix.log.Warn("no process index on this system", "reason", ix.unavailable)
	defer close(ix.stopped)
	ix.store(NewSnapshot(1, ix.opts.Now(), nil, nil))
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-ix.admits:
			req.done <- ix.Snapshot().Seq // nothing to look up
		}
	}
}

// Health reports the index's state for /health and /readyz.
func (ix *Index) Health(context.Context) health.Report {
	if ix.unavailable != "" {
		return health.Report{State: health.Degraded, Detail: ix.unavailable}
	}
	s := ix.Snapshot()
	if s == nil {
		return health.Report{State: health.Down, Detail: "first process scan not finished"}
	}
	st := s.Stats()
	detail := fmt.Sprintf("%d pods, %d pod processes of %d; full scan %s ago took %s",
		len(s.Pods), s.NumProcesses(), st.Processes, ix.opts.Now().Sub(st.At).Round(time.Second), st.Duration.Round(time.Microsecond))
	if src := ix.Source(); src != "" {
		detail += "; source: " + src
	}
	if n := ix.overflows.Load(); n > 0 {
		detail += fmt.Sprintf("; process events lost %d times (socket buffer full), each answered with a full scan", n)
	}
	if n := ix.watchErrs.Load(); n > 0 {
		detail += fmt.Sprintf("; %d cgroup directories could not be watched (inotify limit?), so containers created there show only at the next full scan", n)
	}
	if st.PermissionErrors > 0 {
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf("%s; %d files unreadable for lack of permission", detail, st.PermissionErrors)}
	}
	return health.Report{State: health.OK, Detail: detail}
}
