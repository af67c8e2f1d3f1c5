package procs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// procStat is what bss-api needs from /proc/<pid>/stat.
type procStat struct {
	Comm      string
	PPID      int
	StartTime uint64 // clock ticks after boot; with the PID it identifies a process
}

func (st procStat) proc(pid int) Proc {
	return Proc{PID: pid, PPID: st.PPID, Command: st.Comm, StartTime: st.StartTime}
}

// parseStat reads /proc/<pid>/stat. The command sits in parentheses and may
// itself contain spaces and ')', so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, bool) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, false
	}
	st := procStat{Comm: string(b[open+1 : closing])}
	// After ") ": state(3) ppid(4) … starttime(22).
	rest := b[closing+1:]
	field := 2
	for len(rest) > 0 && field < 22 {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
		field++
		switch field {
		case 4:
			n, err := strconv.Atoi(string(tok))
			if err != nil {
				return procStat{}, false
			}
			st.PPID = n
		case 22:
			n, err := strconv.ParseUint(string(bytes.TrimSpace(tok)), 10, 64)
			if err != nil {
				return procStat{}, false
			}
			st.StartTime = n
		}
	}
	if field != 22 {
		return procStat{}, false
	}
	return st, true
}

// reader reads small /proc and cgroup files into one reused buffer,
// without the allocations of os.ReadFile. Not safe for concurrent use.
type reader struct {
	buf  []byte
	path []byte
	open func(path string) (int, error) // unix.Open; replaced in tests
}

func newReader() *reader {
	return &reader{buf: make([]byte, 64<<10), path: make([]byte, 0, 256), open: openRead}
}

func openRead(path string) (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) }

// read returns the contents of the file at path; the slice is valid until
// the next call.
func (r *reader) read(path string) ([]byte, error) {
	fd, err := r.open(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return r.buf[:n], nil
		}
		n += m
	}
}

// pidPath builds "<root>/<pid>/<name>" in a reused buffer.
func (r *reader) pidPath(root string, pid int, name string) string {
	r.path = append(r.path[:0], root...)
	r.path = append(r.path, '/')
	r.path = strconv.AppendInt(r.path, int64(pid), 10)
	if name != "" {
		r.path = append(r.path, '/')
		r.path = append(r.path, name...)
	}
	return string(r.path)
}

// gone reports whether err means the process or cgroup went away while it
// was read: normal on a busy node, and silent.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, os.ErrNotExist)
}

// denied reports whether err is a permission error, which is counted and
// reported in health but is not fatal.
func denied(err error) bool {
	return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
}

// listPIDs returns the numeric entries of a /proc-like directory.
func listPIDs(dir string) ([]int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// threads returns the thread IDs of pid, the main thread included.
func threads(procRoot string, pid int) []int {
	tids, err := listPIDs(filepath.Join(procRoot, strconv.Itoa(pid), "task"))
	if err != nil {
		return nil
	}
	slices.Sort(tids)
	return tids
}

// parsePIDList reads a cgroup.procs file: one PID per line.
func parsePIDList(b []byte, into []int) []int {
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n')
		if end < 0 {
			end = len(b)
		}
		if pid, err := strconv.Atoi(string(b[:end])); err == nil && pid > 0 {
			into = append(into, pid)
		}
		if end == len(b) {
			break
		}
		b = b[end+1:]
	}
	return into
}
