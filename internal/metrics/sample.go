// Package metrics holds the BSS counter model: decoding and validating what a
// scheduler posts, recording it into a bounded history, summarising it, and
// exporting it to Prometheus.
package metrics

import (
	"math"
	"time"
)

// Sample is one set of counters posted by a scheduler. Every value is a
// non-negative integer; fields the scheduler did not send are zero.
type Sample struct {
	UserschedPID       uint64 `json:"usersched_pid"`
	UserschedLastRunAt uint64 `json:"usersched_last_run_at"`
	NrQueued           uint64 `json:"nr_queued"`
	NrScheduled        uint64 `json:"nr_scheduled"`
	NrRunning          uint64 `json:"nr_running"`
	NrOnlineCPUs       uint64 `json:"nr_online_cpus"`
	NrUserDispatches   uint64 `json:"nr_user_dispatches"`
	NrKernelDispatches uint64 `json:"nr_kernel_dispatches"`
	NrCancelDispatches uint64 `json:"nr_cancel_dispatches"`
	NrBounceDispatches uint64 `json:"nr_bounce_dispatches"`
	NrFailedDispatches uint64 `json:"nr_failed_dispatches"`
	NrSchedCongested   uint64 `json:"nr_sched_congested"`
}

// Record is a Sample as stored: with the time the server received it.
type Record struct {
	ReceivedAt time.Time `json:"received_at"`
	Sample
}

// Kind says how a field behaves over time.
type Kind int

// Field kinds.
const (
	Identity Kind = iota // identifies the scheduler run (pid, last run time)
	Gauge                // a level that goes up and down
	Counter              // a running total that only grows until the scheduler restarts
)

// Field describes one posted field.
type Field struct {
	Name string
	Kind Kind
	Max  uint64 // largest accepted value
	Help string
	get  func(*Sample) *uint64
}

// Get returns the field's value in s.
func (f Field) Get(s *Sample) uint64 { return *f.get(s) }

// Set sets the field's value in s.
func (f Field) Set(s *Sample, v uint64) { *f.get(s) = v }

// fields lists every known field in the order of the seed's BssData table.
// It is never modified.
var fields = [...]Field{
	{"usersched_pid", Identity, math.MaxUint32, "PID of the userspace scheduler", func(s *Sample) *uint64 { return &s.UserschedPID }},
	{"usersched_last_run_at", Identity, math.MaxUint64, "Last time the userspace scheduler ran, as the scheduler reports it", func(s *Sample) *uint64 { return &s.UserschedLastRunAt }},
	{"nr_queued", Gauge, math.MaxUint64, "Number of tasks queued in the userspace scheduler", func(s *Sample) *uint64 { return &s.NrQueued }},
	{"nr_scheduled", Gauge, math.MaxUint64, "Number of tasks scheduled by the userspace scheduler", func(s *Sample) *uint64 { return &s.NrScheduled }},
	{"nr_running", Gauge, math.MaxUint64, "Number of tasks currently running in the userspace scheduler", func(s *Sample) *uint64 { return &s.NrRunning }},
	{"nr_online_cpus", Gauge, math.MaxUint64, "Number of online CPUs in the system", func(s *Sample) *uint64 { return &s.NrOnlineCPUs }},
	{"nr_user_dispatches", Counter, math.MaxUint64, "Number of userspace dispatches", func(s *Sample) *uint64 { return &s.NrUserDispatches }},
	{"nr_kernel_dispatches", Counter, math.MaxUint64, "Number of kernel space dispatches", func(s *Sample) *uint64 { return &s.NrKernelDispatches }},
	{"nr_cancel_dispatches", Counter, math.MaxUint64, "Number of cancelled dispatches", func(s *Sample) *uint64 { return &s.NrCancelDispatches }},
	{"nr_bounce_dispatches", Counter, math.MaxUint64, "Number of bounce dispatches", func(s *Sample) *uint64 { return &s.NrBounceDispatches }},
	{"nr_failed_dispatches", Counter, math.MaxUint64, "Number of failed dispatches", func(s *Sample) *uint64 { return &s.NrFailedDispatches }},
	{"nr_sched_congested", Counter, math.MaxUint64, "Number of scheduler congestion occurrences", func(s *Sample) *uint64 { return &s.NrSchedCongested }},
}

// Fields returns the known fields in a fixed order. The caller may not
// modify the returned slice.
func Fields() []Field { return fields[:] }

// lookupField returns the index of the field called name, or -1. It
// repeats the order of fields, for speed (TestLookupFieldMatchesFields
// holds the two together).
func lookupField(name []byte) int {
	// A switch on string(b) does not allocate.
	switch string(name) {
	case "usersched_pid":
		return 0
	case "usersched_last_run_at":
		return 1
	case "nr_queued":
		return 2
	case "nr_scheduled":
		return 3
	case "nr_running":
		return 4
	case "nr_online_cpus":
		return 5
	case "nr_user_dispatches":
		return 6
	case "nr_kernel_dispatches":
		return 7
	case "nr_cancel_dispatches":
		return 8
	case "nr_bounce_dispatches":
		return 9
	case "nr_failed_dispatches":
		return 10
	case "nr_sched_congested":
		return 11
	}
	return -1
}
