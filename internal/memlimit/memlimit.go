// Package memlimit finds the memory limit of the container the process
// runs in, from its cgroup, so the Go runtime can be given a soft limit
// below it: a garbage collector that knows the limit collects harder as
// the heap nears it, instead of growing past it into the kernel's OOM
// killer.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Cgroup is the memory limit in force for a process's cgroup.
type Cgroup struct {
	// Limit is the smallest limit set on the cgroup or any ancestor
	// visible to the process, in bytes.
	Limit int64
	// File is the control file that set it, e.g.
	// /sys/fs/cgroup/memory.max or .../memory/memory.limit_in_bytes.
	File string
}

// unlimitedV1 is where cgroup v1 reports "no limit": the page counter's
// maximum, rounded to pages. Anything this large is no limit.
const unlimitedV1 = 1 << 62

// Hierarchy is the memory cgroup a process is in.
type Hierarchy struct {
	Version int    // 1 or 2
	Dir     string // the cgroup's directory
	Mount   string // where its hierarchy is mounted: the top of what the process sees
}

// Locate finds the memory cgroup of the process reading procSelf
// ("/proc/self") through procSelf/cgroup and procSelf/mountinfo: cgroup
// v1's memory controller when mounted (on a hybrid host the v2 tree has no
// memory controller), else cgroup v2. ok is false when neither is mounted
// (outside a container, or not Linux).
func Locate(procSelf string) (h Hierarchy, ok bool, err error) {
	cgroups, err := os.ReadFile(filepath.Join(procSelf, "cgroup"))
	if errors.Is(err, fs.ErrNotExist) {
		return Hierarchy{}, false, nil
	}
	if err != nil {
		return Hierarchy{}, false, fmt.Errorf("read the process's cgroups: %w", err)
	}
	mounts, err := os.ReadFile(filepath.Join(procSelf, "mountinfo"))
	if err != nil {
		return Hierarchy{}, false, fmt.Errorf("read the process's mounts: %w", err)
	}
	v1Path, v2Path, hasV1, hasV2 := parseProcCgroup(cgroups)
	if hasV1 {
		if dir, mount, found := findMount(mounts, "cgroup", "memory", v1Path); found {
			return Hierarchy{Version: 1, Dir: dir, Mount: mount}, true, nil
		}
	}
	if hasV2 {
		if dir, mount, found := findMount(mounts, "cgroup2", "", v2Path); found {
			return Hierarchy{Version: 2, Dir: dir, Mount: mount}, true, nil
		}
	}
	return Hierarchy{}, false, nil
}

// LimitFile is the control file of the memory limit in a cgroup of the
// hierarchy.
func (h Hierarchy) LimitFile() string {
	if h.Version == 1 {
		return "memory.limit_in_bytes"
	}
	return "memory.max"
}

// FromCgroup returns the memory limit of the cgroup the process reading
// procSelf ("/proc/self") is in (see Locate): cgroup v2's memory.max or
// v1's memory.limit_in_bytes, the smallest along the path from the cgroup
// up to the top of its mount. ok is false when no limit is set or no
// memory cgroup is mounted; err reports files that exist but cannot be
// read or parsed.
func FromCgroup(procSelf string) (c Cgroup, ok bool, err error) {
	h, ok, err := Locate(procSelf)
	if !ok || err != nil {
		return Cgroup{}, false, err
	}
	return walkUp(h.Dir, h.Mount, h.LimitFile())
}

// parseProcCgroup reads /proc/self/cgroup: the v1 memory controller's
// path and the v2 path ("0::/path").
func parseProcCgroup(b []byte) (v1, v2 string, hasV1, hasV2 bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		id, rest, ok1 := bytes.Cut(line, []byte{':'})
		controllers, p, ok2 := bytes.Cut(rest, []byte{':'})
		if !ok1 || !ok2 {
			continue
		}
		if string(id) == "0" && len(controllers) == 0 {
			v2, hasV2 = string(p), true
			continue
		}
		for c := range bytes.SplitSeq(controllers, []byte{','}) {
			if string(c) == "memory" {
				v1, hasV1 = string(p), true
			}
		}
	}
	return v1, v2, hasV1, hasV2
}

// findMount finds in mountinfo the mount of fstype (with option among its
// super options, when given) that holds cgroupPath, and returns the
// cgroup's directory and the mount point (the top of the walk).
func findMount(mountinfo []byte, fstype, option, cgroupPath string) (dir, mountPoint string, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		pre, post, found := strings.Cut(sc.Text(), " - ")
		if !found {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != fstype {
			continue
		}
		if option != "" && !hasOption(g[2], option) {
			continue
		}
		root, mp := unescape(f[3]), unescape(f[4])
		// The mount shows the hierarchy from root down; a process in a
		// cgroup namespace sees paths relative to it, and a process whose
		// path is outside root (a container without one) is at root.
		rel, inside := strings.CutPrefix(cgroupPath, root)
		if !inside || (rel != "" && root != "/" && !strings.HasPrefix(rel, "/")) {
			rel = ""
		}
		return filepath.Join(mp, path.Clean("/"+rel)), mp, true
	}
	return "", "", false
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// walkUp reads file in dir and each parent up to top, and returns the
// smallest limit found.
func walkUp(dir, top, file string) (Cgroup, bool, error) {
	var best Cgroup
	for {
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The root cgroup has no limit file; neither has a v2 cgroup
			// whose parent does not delegate the memory controller.
		case err != nil:
			return Cgroup{}, false, fmt.Errorf("read %s: %w", p, err)
		default:
			s := strings.TrimSpace(string(b))
			if s != "max" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return Cgroup{}, false, fmt.Errorf("read %s: %q is not a byte count", p, s)
				}
				if n > 0 && n < unlimitedV1 && (best.Limit == 0 || n < best.Limit) {
					best = Cgroup{Limit: n, File: p}
				}
			}
		}
		if dir == top || len(dir) <= len(top) {
			break
		}
		dir = filepath.Dir(dir)
	}
	return best, best.Limit > 0, nil
}
