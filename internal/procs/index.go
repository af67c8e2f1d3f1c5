package procs

import (
	"context"
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
	Logger       *slog.Logger
	Now          func() time.Time
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
}

// New returns an index; it reads nothing until Run.
func New(opts Options) *Index {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Index{opts: opts, log: opts.Logger, unavailable: unavailable}
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

// store publishes s and wakes the subscribers.
func (ix *Index) store(s *Snapshot) {
	ix.snap.Store(s)
	ix.Changed()
}

// runUnavailable is Run where processes cannot be listed: readers get an
// empty snapshot at once instead of waiting for a scan that never comes.
func (ix *Index) runUnavailable(ctx context.Context) error {
	ix.log.Warn("no process index on this system", "reason", ix.unavailable)
	ix.store(NewSnapshot(1, ix.opts.Now(), nil, nil))
	<-ctx.Done()
	return nil
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
	if n := ix.watchErrs.Load(); n > 0 {
		detail += fmt.Sprintf("; %d cgroup directories could not be watched (inotify limit?), so containers created there show only at the next full scan", n)
	}
	if st.PermissionErrors > 0 {
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf("%s; %d files unreadable for lack of permission", detail, st.PermissionErrors)}
	}
	return health.Report{State: health.OK, Detail: detail}
}
