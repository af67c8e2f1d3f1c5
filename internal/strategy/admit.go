package strategy

import (
	"context"
	"time"
)

// ProcessAdmitter looks processes up at once instead of at the next scan:
// the process index. AdmitPIDs adds those of pids that are alive and not
// yet indexed, and returns the Seq of a process snapshot that includes
// every live one of them.
type ProcessAdmitter interface {
	AdmitPIDs(ctx context.Context, pids []int) (uint64, error)
}

// admitWait bounds how long a write waits for the pod view to show the
// processes it admitted: the view follows the index within its debounce,
// so only a stopped view gets near it; the write then answers anyway.
const admitWait = 2 * time.Second

// admit makes sure that the resolution a write waits for can see every
// process its pid strategies target, even one started just before the
// write, which the index would otherwise see only at its next scan: it has
// the index look those up now, and waits until the pod view the resolver
// resolves against is built from a snapshot that includes them. Without
// an admitter, or with every PID already in view, it returns at once.
// It cannot fail the write: at worst the PID shows at the next scan.
func (s *Service) admit(ctx context.Context, list []Strategy) {
	if s.admitter == nil {
		return
	}
	v := s.resolver.view()
	var pids []int
	for _, st := range list {
		if st.PID == 0 {
			continue
		}
		if v != nil && v.Procs != nil {
			if _, seen := v.Procs.Process(int(st.PID)); seen {
				continue
			}
		}
		pids = append(pids, int(st.PID))
	}
	if len(pids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, admitWait)
	defer cancel()
	seq, err := s.admitter.AdmitPIDs(ctx, pids)
	if err != nil {
		s.log.Warn("could not look up the processes a write targets; they show at the next process scan", "pids", pids, "err", err)
		return
	}
	if err := s.awaitView(ctx, seq); err != nil {
		s.log.Warn("the pod view did not show the processes a write targets in time", "pids", pids, "err", err)
	}
}

// awaitView waits until the pod view is built from a process snapshot
// with Seq seq or later.
func (s *Service) awaitView(ctx context.Context, seq uint64) error {
	views, stop := s.resolver.opts.Views.Subscribe()
	defer stop()
	for {
		if v := s.resolver.view(); v != nil && v.Procs != nil && v.Procs.Seq >= seq {
			return nil
		}
		select {
		case <-views:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
