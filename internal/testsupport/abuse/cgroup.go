package abuse

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bss-api/bss-api/internal/memlimit"
)

// Cgroup is a memory cgroup made for one server: a child of this
// process's own memory cgroup on cgroup v1, of the top of the visible
// hierarchy on v2 (whose "no internal processes" rule forbids a child
// with a controller under a cgroup that has processes).
type Cgroup struct {
	Dir     string
	Version int
	Limit   int64
}

// NewCgroup creates the cgroup name with a memory limit of limit bytes.
// It needs root and a mounted memory controller.
func NewCgroup(name string, limit int64) (*Cgroup, error) {
	h, ok, err := memlimit.Locate("/proc/self")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no memory cgroup hierarchy is mounted")
	}
	parent := h.Dir
	if h.Version == 2 {
		parent = h.Mount
		ctl, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
		if err != nil {
			return nil, fmt.Errorf("cgroup v2 at %s: %w", parent, err)
		}
		if !strings.Contains(" "+string(ctl)+" ", " memory ") {
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
				return nil, fmt.Errorf("enable the memory controller under %s (a cgroup v2 with processes of its own cannot; "+
					"run from one whose subtree is delegated): %w", parent, err)
			}
		}
	}
	c := &Cgroup{Dir: filepath.Join(parent, name), Version: h.Version, Limit: limit}
	if err := os.Mkdir(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", c.Dir, err)
	}
	if err := c.write(h.LimitFile(), strconv.FormatInt(limit, 10)); err != nil {
		_ = os.Remove(c.Dir)
		return nil, err
	}
	if h.Version == 1 {
		// With swap, v1's limit would bound memory only, not memory+swap.
		_ = c.write("memory.memsw.limit_in_bytes", strconv.FormatInt(limit, 10))
	} else {
		_ = c.write("memory.swap.max", "0")
	}
	return c, nil
}

func (c *Cgroup) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.Dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("set %s in %s: %w", file, c.Dir, err)
	}
	return nil
}

// ProcsFile is the file a process writes its PID into to join.
func (c *Cgroup) ProcsFile() string { return filepath.Join(c.Dir, "cgroup.procs") }

// OOMKills returns how many processes the kernel killed for the cgroup's
// memory.
func (c *Cgroup) OOMKills() (int, error) {
	file := "memory.events"
	if c.Version == 1 {
		file = "memory.oom_control"
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, file))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s has no oom_kill count", file)
}

// Usage returns the cgroup's memory use now and its peak (resident memory
// and page cache charged to it; the kernel reclaims the cache before it
// kills). The peak is 0 where the kernel keeps none (cgroup v2 before
// Linux 5.19).
func (c *Cgroup) Usage() (now, peak int64) {
	nowFile, peakFile := "memory.current", "memory.peak"
	if c.Version == 1 {
		nowFile, peakFile = "memory.usage_in_bytes", "memory.max_usage_in_bytes"
	}
	read := func(f string) int64 {
		b, _ := os.ReadFile(filepath.Join(c.Dir, f))
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	return read(nowFile), read(peakFile)
}

// Remove deletes the cgroup once its processes have exited.
func (c *Cgroup) Remove() error {
	var err error
	for range 50 { // the last exit is noticed a moment after wait returns
		if err = os.Remove(c.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.Dir, err)
}
