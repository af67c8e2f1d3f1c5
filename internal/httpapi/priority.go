package httpapi

import "github.com/bss-api/bss-api/internal/strategy"

// PriorityFormat is how the resolved entries of GET
// /api/v1/scheduling/strategies and of a preview carry each PID's
// priority level (--priority-format). No one JSON value decodes both as a
// Go bool and as a Go int, and the scheduler versions in use want one or
// the other (scheduler-clients.md), so the server is told which.
// Definitions are not affected: they read back as written.
type PriorityFormat string

const (
	// PriorityBool emits level > 0 as true or false: the seed's form,
	// which the schedulers C1 to C4 decode. The zero value means it too.
	PriorityBool PriorityFormat = "bool"
	// PriorityInt emits the level, 0 to strategy.MaxPriority, which the
	// current scheduler (C5) decodes.
	PriorityInt PriorityFormat = "int"
)

// entries renders entries in format f: a []schedulingEntry[bool] or
// []schedulingEntry[int], never nil.
func (f PriorityFormat) entries(entries []strategy.Entry, verbose bool) any {
	if f == PriorityInt {
		return schedulingEntries(entries, verbose, func(level int) int { return level })
	}
	return schedulingEntries(entries, verbose, func(level int) bool { return level > 0 })
}
