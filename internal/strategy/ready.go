package strategy

import (
	"github.com/bss-api/bss-api/internal/podview"
)

// complete reports whether v may be resolved and the result published: a
// view exists (the first full process scan is done) and its pod metadata
// was complete when it was built. Resolving anything less would publish
// an answer missing the PIDs that selector strategies win.
func complete(v *podview.View) bool {
	return v != nil && v.MetaPending == ""
}

// Pending lists what the first resolution still waits for, in words for
// an operator or a client (the first full process scan, the pod metadata
// and why, the stored strategies and why), or nil once there is a
// snapshot. It is empty, not nil, in the moment between everything
// arriving and Run publishing. Safe for concurrent use.
func (r *Resolver) Pending() []string {
	if r.snap.Load() != nil {
		return nil
	}
	missing := []string{}
	switch v := r.view(); {
	case v == nil:
		missing = append(missing, "the first full process scan")
	case v.MetaPending != "":
		missing = append(missing, "pod metadata: "+v.MetaPending)
	}
	switch st := r.state.Load(); {
	case st == nil:
		missing = append(missing, "the stored strategies: not read yet")
	case !st.loaded:
		missing = append(missing, "the stored strategies: "+st.readErr)
	}
	return missing
}
