//go:build !linux

package procs

import (
	"context"
	"runtime"
)

const unavailable = "processes are not available on " + runtime.GOOS +
	": the process index reads Linux /proc and cgroups, so no pods or processes are listed"

// Run publishes an empty snapshot and waits for ctx to be cancelled: there
// is nothing to scan on this system.
func (ix *Index) Run(ctx context.Context) error { return ix.runUnavailable(ctx) }

// openEventsFunc stands for the process event connection, which only
// Linux has.
type openEventsFunc func() error

// defaultOpenEvents is never called: Run here reads no events.
func defaultOpenEvents() error { return nil }
