package config

import (
	"flag"
	"fmt"
	"time"
)

// Events is the configuration of the process index's use of the kernel's
// process events (the netlink process connector).
type Events struct {
	// ProcessEvents subscribes to process events where the server may
	// (root, or CAP_NET_ADMIN, in the host's network and PID namespaces);
	// elsewhere, or when false, the index polls.
	ProcessEvents bool
	// EventPollInterval is the container cgroup poll period while events
	// arrive, in place of PollInterval: polls then only catch processes
	// moved between cgroups without an exec.
	EventPollInterval time.Duration
}

func defaultEvents() Events {
	return Events{ProcessEvents: true, EventPollInterval: 5 * time.Second}
}

func (e *Events) eventFlags(fs *flag.FlagSet) {
	fs.BoolVar(&e.ProcessEvents, "process-events", e.ProcessEvents,
		"learn of processes from the kernel's process events (netlink process connector) where the server may; false: poll only")
	fs.DurationVar(&e.EventPollInterval, "event-poll-interval", e.EventPollInterval,
		"period of the container cgroup poll while process events arrive (--poll-interval applies without them)")
}

func (e Events) validateEvents() error {
	if e.EventPollInterval < 10*time.Millisecond {
		return fmt.Errorf("invalid --event-poll-interval %s: must be at least 10ms", e.EventPollInterval)
	}
	return nil
}
