package strategy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bss-api/bss-api/internal/health"
)

// loadState is what the resolver's last read of the store found.
// Immutable once published.
type loadState struct {
	loaded  bool // a read has succeeded: the strategies are known
	inForce int
	skipped []Skipped
	readErr string // the last read failed: why; the strategies before stay in force
}

// Health, and the log, say why for the first healthListed skipped
// strategies; the log names the first logListed.
const (
	healthListed = 5
	logListed    = 1000
)

// noteLoad publishes what a read found, and logs the stored strategies it
// does not apply whenever they change (so once for a stored set, not at
// every read). Only Run's goroutine calls it.
func (r *Resolver) noteLoad(inForce int, skipped []Skipped) {
	prev := r.state.Load()
	r.state.Store(&loadState{loaded: true, inForce: inForce, skipped: skipped})
	if prev != nil && slices.Equal(prev.skipped, skipped) {
		return
	}
	if len(skipped) == 0 {
		if prev != nil && len(prev.skipped) > 0 {
			r.log.Info("every stored strategy is applied again", "strategies", inForce)
		}
		return
	}
	names := make([]string, 0, min(len(skipped), logListed))
	for _, s := range skipped[:cap(names)] {
		names = append(names, s.Name)
	}
	r.log.Warn("stored strategies break the limits and are not applied; the others are",
		"skipped", len(skipped), "applied", inForce, "names", names, "why", describeSkipped(skipped, healthListed))
}

// noteReadError publishes that a read failed; the strategies read before
// stay in force. Only Run's goroutine calls it.
func (r *Resolver) noteReadError(err error) {
	st := loadState{readErr: err.Error()}
	if prev := r.state.Load(); prev != nil {
		st.loaded, st.inForce, st.skipped = prev.loaded, prev.inForce, prev.skipped
	}
	r.state.Store(&st)
}

// Health reports the strategies: degraded while stored strategies are not
// applied (naming them and why) or the store cannot be read (the
// strategies read before stay in force); ok otherwise.
func (r *Resolver) Health(context.Context) health.Report {
	st := r.state.Load()
	switch {
	case st == nil:
		return health.Report{State: health.OK, Detail: "not read yet"}
	case st.readErr != "":
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf(
			"the stored strategies cannot be read (%s); the %d read before stay in force, retrying every %s", st.readErr, st.inForce, retryAfter)}
	case len(st.skipped) > 0:
		return health.Report{State: health.Degraded, Detail: fmt.Sprintf(
			"%d of the %d stored strategies are not applied: %s", len(st.skipped), len(st.skipped)+st.inForce, describeSkipped(st.skipped, healthListed))}
	}
	return health.Report{State: health.OK, Detail: fmt.Sprintf("%d stored, all applied", st.inForce)}
}

// describeSkipped names the first n skipped strategies with why, and
// counts the rest.
func describeSkipped(skipped []Skipped, n int) string {
	parts := make([]string, 0, min(n, len(skipped))+1)
	for _, s := range skipped[:min(n, len(skipped))] {
		parts = append(parts, fmt.Sprintf("%s (%s)", cmpOr(s.Name, `""`), s.Reason))
	}
	if more := len(skipped) - n; more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(parts, "; ")
}
