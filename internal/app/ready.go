package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/strategy"
)

// resolutionCheck is the "resolution" component of /health: down, so not
// ready, until the first complete resolution (the first full process
// scan, the pod metadata, the stored strategies), naming what it waits
// for; GET strategies answers 503 until then.
func resolutionCheck(r *strategy.Resolver) health.Check {
	return health.Check{Name: "resolution", Critical: true, Probe: func(context.Context) health.Report {
		snap := r.Snapshot()
		if snap == nil {
			missing := r.Pending()
			if len(missing) == 0 {
				missing = []string{"the resolver to publish"}
			}
			return health.Report{State: health.Down, Detail: "not resolved yet; waiting for " + strings.Join(missing, "; ")}
		}
		return health.Report{State: health.OK, Detail: fmt.Sprintf("version %d resolved at %s: %d PIDs",
			snap.Version, snap.ResolvedAt.UTC().Format("2006-01-02T15:04:05.000Z"), len(snap.Entries))}
	}}
}
