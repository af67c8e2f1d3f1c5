package app

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"syscall"

	"github.com/bss-api/bss-api/internal/config"
	"github.com/bss-api/bss-api/internal/memlimit"
)

// resources are the bounds the server runs with, settled from the
// configuration and the machine: the memory limit in force, the file
// descriptors the process may open.
type resources struct {
	memoryLimit int64 // the Go runtime's soft limit; 0: none
	maxConns    int
	perClient   int
	bodyBudget  int64
	cachedBody  int64 // the largest answer kept encoded between requests
}

// connectionCost is what one open connection may hold: a goroutine's
// stack, the server's read and write buffers and the connection's state
// (about 29 KiB idle, measured), and request headers up to maxHeader
// being parsed, which hold 2 to 2.5 times their size (1,000 connections
// sending 60 KiB of headers and never finishing held 145 MiB).
func connectionCost(maxHeader int) int64 { return 32<<10 + int64(maxHeader)*5/2 }

const (
	// fdsReserved are file descriptors kept for the server's own work
	// (SQLite's database, journal and shared memory per connection, a
	// PostgreSQL pool, /proc and cgroup reads, inotify, the Kubernetes API
	// server, TLS files) beyond a tenth of the limit.
	fdsReserved = 64
)

// settleResources sets the Go runtime's soft memory limit as --memory-limit
// says and logs it, and derives the bounds left at 0 in cfg: connections
// from RLIMIT_NOFILE and the memory limit, the body budget from the
// memory limit. It changes process-wide state (the runtime's limit), as
// Run owns the process.
func settleResources(cfg config.Config, getenv func(string) string, log *slog.Logger) resources {
	var r resources
	r.memoryLimit = applyMemoryLimit(cfg.MemoryLimit, getenv, log)

	fdCap, fdText := math.MaxInt, "no RLIMIT_NOFILE"
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < math.MaxInt32 {
		fdCap = max(int(rl.Cur)-fdsReserved-int(rl.Cur/10), 16)
		fdText = fmt.Sprintf("RLIMIT_NOFILE %d, %d kept for the server's own files", rl.Cur, int(rl.Cur)-fdCap)
	}
	memCap := math.MaxInt
	if r.memoryLimit > 0 {
		// A quarter of the memory for connections, the rest for the work.
		memCap = max(int(r.memoryLimit/4/connectionCost(cfg.MaxHeaderBytes)), 16)
	}
	r.maxConns = cfg.MaxConnections
	from := "--max-connections"
	switch {
	case r.maxConns > 0 && r.maxConns > fdCap:
		log.Warn("--max-connections is above what RLIMIT_NOFILE leaves after the server's own files; at that limit, accepting fails until connections close",
			"max_connections", r.maxConns, "rlimit_nofile", rl.Cur)
	case r.maxConns > 0:
	case memCap < fdCap:
		r.maxConns, from = memCap, fmt.Sprintf("a quarter of the memory limit, %dKiB each (idle, or reading --max-header-bytes of headers)", connectionCost(cfg.MaxHeaderBytes)>>10)
	default:
		r.maxConns, from = min(fdCap, 1<<16), fdText
	}
	r.perClient = min(cfg.MaxConnectionsPerClient, r.maxConns)

	r.bodyBudget = cfg.MaxBodyBytesInFlight
	if r.bodyBudget == 0 {
		r.bodyBudget = 64 << 20
		if r.memoryLimit > 0 {
			r.bodyBudget = r.memoryLimit / 8
		}
		r.bodyBudget = max(r.bodyBudget, 4*cfg.MaxBodyBytes)
	}
	// Four answers are kept encoded (pods and strategies, two forms
	// each), with their gzipped copies: an eighth of the memory at most.
	r.cachedBody = 16 << 20
	if r.memoryLimit > 0 {
		r.cachedBody = r.memoryLimit / 32
	}
	log.Info("connection and body limits", "max_connections", r.maxConns, "from", from,
		"per_client", r.perClient, "body_bytes_in_flight", r.bodyBudget, "body_min_rate", cfg.BodyMinRate, "largest_cached_answer", r.cachedBody)
	return r
}

// applyMemoryLimit sets the runtime's soft memory limit and returns it
// (0: none).
func applyMemoryLimit(m config.MemoryLimit, getenv func(string) string, log *slog.Logger) int64 {
	set := func(limit int64, source string, attrs ...any) int64 {
		debug.SetMemoryLimit(limit)
		log.Info("memory limit", append([]any{"soft_limit", mib(limit), "source", source}, attrs...)...)
		return limit
	}
	switch {
	case m.Mode == "off":
		debug.SetMemoryLimit(math.MaxInt64)
		log.Info("memory limit", "soft_limit", "none", "source", "--memory-limit=off")
		return 0
	case m.Mode == "bytes":
		return set(m.Bytes, "--memory-limit")
	case m.Mode == "auto" && getenv("GOMEMLIMIT") != "":
		// The runtime read it at start; report what it is.
		limit := debug.SetMemoryLimit(-1)
		log.Info("memory limit", "soft_limit", mib(limit), "source", "GOMEMLIMIT")
		return limit
	}
	percent := m.Percent
	if m.Mode == "auto" {
		percent = config.DefaultMemoryLimitPercent
	}
	cg, ok, err := memlimit.FromCgroup("/proc/self")
	switch {
	case err != nil:
		log.Warn("no memory limit: the cgroup's could not be read", "err", err)
		return 0
	case !ok:
		log.Info("memory limit", "soft_limit", "none", "source", "no cgroup memory limit is set and GOMEMLIMIT is not")
		return 0
	}
	return set(int64(float64(cg.Limit)*percent/100), fmt.Sprintf("%g%% of the cgroup's limit", percent),
		"cgroup_limit", mib(cg.Limit), "cgroup_file", cg.File)
}

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }
