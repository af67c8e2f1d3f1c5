package config

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Resources bound what the server holds for its clients: memory, open
// connections, and request bodies on their way in. Zero values of the
// numeric fields mean "derived at start-up" (from the memory limit in
// force and RLIMIT_NOFILE); app does the deriving, since it depends on
// the machine, not on the configuration.
type Resources struct {
	// MemoryLimit sets the Go runtime's soft memory limit.
	MemoryLimit MemoryLimit
	// MaxConnections bounds the connections open at once on all
	// listeners together; 0: derived.
	MaxConnections int
	// MaxConnectionsPerClient bounds the connections one client (an IPv4
	// address, an IPv6 /64) may hold open.
	MaxConnectionsPerClient int
	// BodyMinRate is the average rate, in bytes per second, below which a
	// request body is cut off once BodyRateGrace has passed; 0: none.
	BodyMinRate int64
	// MaxBodyBytesInFlight bounds the request body bytes held by all
	// requests together; 0: derived.
	MaxBodyBytesInFlight int64
}

// BodyRateGrace is how long a request body may take before BodyMinRate
// applies: the first bytes of a body may be slow to come (a TCP window
// opening, a client that sends headers before it has the body ready).
const BodyRateGrace = 5 * time.Second

// MemoryLimit is --memory-limit: how the soft memory limit is chosen.
type MemoryLimit struct {
	// Mode is "auto" (GOMEMLIMIT if set, else DefaultMemoryLimitPercent
	// of the cgroup's limit), "percent" (Percent of the cgroup's limit),
	// "bytes" (Bytes) or "off" (no soft limit, GOMEMLIMIT ignored).
	Mode    string
	Percent float64
	Bytes   int64
}

// DefaultMemoryLimitPercent is the share of the cgroup's memory limit the
// Go heap may use under --memory-limit=auto; the rest is for what the Go
// runtime does not count (SQLite's page cache, thread stacks, the
// binary's own pages).
const DefaultMemoryLimitPercent = 90

func (m MemoryLimit) String() string {
	switch m.Mode {
	case "percent":
		return strconv.FormatFloat(m.Percent, 'f', -1, 64) + "%"
	case "bytes":
		return strconv.FormatInt(m.Bytes, 10)
	}
	return m.Mode
}

// parseMemoryLimit reads auto, off, N% or a size.
func parseMemoryLimit(s string) (MemoryLimit, error) {
	t := strings.TrimSpace(s)
	switch t {
	case "auto", "off":
		return MemoryLimit{Mode: t}, nil
	}
	if p, ok := strings.CutSuffix(t, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f <= 0 || f > 100 {
			return MemoryLimit{}, fmt.Errorf("%q is not a percentage from 0 (exclusive) to 100", s)
		}
		return MemoryLimit{Mode: "percent", Percent: f}, nil
	}
	n, err := parseSize(t)
	if err != nil {
		return MemoryLimit{}, fmt.Errorf("%q is not auto, off, a percentage of the cgroup's limit (90%%) or a size (256MiB)", s)
	}
	return MemoryLimit{Mode: "bytes", Bytes: n}, nil
}

func defaultResources() Resources {
	return Resources{
		MemoryLimit:             MemoryLimit{Mode: "auto"},
		MaxConnectionsPerClient: 128,
		BodyMinRate:             1 << 10,
	}
}

func (r *Resources) resourceFlags(fs *flag.FlagSet) {
	fs.Func("memory-limit", "the Go runtime's soft memory limit: auto (GOMEMLIMIT if set, else 90% of the container's cgroup memory limit), "+
		"a percentage of the cgroup's limit, a size (256MiB), or off (default auto)", func(s string) error {
		m, err := parseMemoryLimit(s)
		r.MemoryLimit = m
		return err
	})
	fs.IntVar(&r.MaxConnections, "max-connections", r.MaxConnections, "connections open at once on all listeners; past it the longest-idle connection is closed for a new one, "+
		"or the new one waits (0: derived from RLIMIT_NOFILE, keeping descriptors for the server's own files, and from the memory limit)")
	fs.IntVar(&r.MaxConnectionsPerClient, "max-connections-per-client", r.MaxConnectionsPerClient, "connections one client (an IPv4 address, an IPv6 /64) may hold open; more are closed at once")
	fs.Func("body-min-rate", "request bodies slower than this many `bytes` per second on average, after their first 5s, are cut off with 408 (suffixes KiB, MiB; 0: no minimum) (default 1KiB)", func(s string) error {
		n, err := parseSize(s)
		r.BodyMinRate = n
		return err
	})
	fs.Func("max-body-bytes-in-flight", "request body `bytes` held by all requests together; a body that would pass it waits, then gets 503 "+
		"(suffixes KiB, MiB; 0: an eighth of the memory limit, at least 4 * --max-body-bytes)", func(s string) error {
		n, err := parseSize(s)
		r.MaxBodyBytesInFlight = n
		return err
	})
}

func (r Resources) validateResources(maxBody int64) error {
	if r.MaxConnections < 0 {
		return fmt.Errorf("invalid --max-connections %d: must be 0 (derived) or positive", r.MaxConnections)
	}
	if r.MaxConnectionsPerClient < 1 {
		return fmt.Errorf("invalid --max-connections-per-client %d: must be at least 1", r.MaxConnectionsPerClient)
	}
	if r.MaxConnections > 0 && r.MaxConnectionsPerClient > r.MaxConnections {
		return fmt.Errorf("invalid --max-connections-per-client %d: more than --max-connections %d", r.MaxConnectionsPerClient, r.MaxConnections)
	}
	if r.MaxBodyBytesInFlight != 0 && r.MaxBodyBytesInFlight < maxBody {
		return fmt.Errorf("invalid --max-body-bytes-in-flight %d: must be 0 (derived) or at least --max-body-bytes (%d), or no body of the largest size could ever be read", r.MaxBodyBytesInFlight, maxBody)
	}
	switch r.MemoryLimit.Mode {
	case "auto", "off", "percent":
	case "bytes":
		if r.MemoryLimit.Bytes < 16<<20 {
			return fmt.Errorf("invalid --memory-limit %d: below 16MiB the server cannot run", r.MemoryLimit.Bytes)
		}
	default:
		return errors.New("invalid --memory-limit: must be auto, off, a percentage or a size")
	}
	return nil
}
