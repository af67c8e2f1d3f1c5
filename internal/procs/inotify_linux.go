package procs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirEvent says that a directory appeared or went away below a watched one.
// overflow means events were lost and a rescan is needed.
type dirEvent struct {
	path     string
	created  bool
	overflow bool
}

// watcher reports subdirectory creation and removal in watched directories
// through inotify. The fd is non-blocking and registered with the Go
// runtime's poller, so Close unblocks a pending read.
type watcher struct {
	file   *os.File
	fd     int
	byWD   map[int]string // read and written only by the owner of the watcher
	byPath map[string]int
}

func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	return &watcher{file: os.NewFile(uintptr(fd), "inotify"), fd: fd, byWD: map[int]string{}, byPath: map[string]int{}}, nil
}

// add watches dir for subdirectories created, removed or moved. Watching a
// directory twice is a no-op.
func (w *watcher) add(dir string) error {
	if _, ok := w.byPath[dir]; ok {
		return nil
	}
	wd, err := unix.InotifyAddWatch(w.fd, dir,
		unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	w.byWD[wd] = dir
	w.byPath[dir] = wd
	return nil
}

// forget drops the bookkeeping of dir; the kernel drops the watch itself
// when the directory is removed.
func (w *watcher) forget(dir string) {
	if wd, ok := w.byPath[dir]; ok {
		delete(w.byPath, dir)
		delete(w.byWD, wd)
	}
}

// read blocks until events arrive or the watcher is closed. The returned
// events hold paths of subdirectories. It is called by one goroutine only,
// and must not run concurrently with add: read copies what it needs.
func (w *watcher) read(buf []byte) (int, error) {
	n, err := w.file.Read(buf)
	if err != nil {
		if errors.Is(err, fs.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return 0, err
		}
		return 0, fmt.Errorf("read inotify: %w", err)
	}
	return n, nil
}

// rawEvent is an inotify event before its watch descriptor is resolved.
type rawEvent struct {
	wd       int
	name     string
	mask     uint32
	overflow bool
}

// decode splits a buffer read from inotify into events.
func decode(buf []byte) []rawEvent {
	var out []rawEvent
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			break
		}
		name := buf[unix.SizeofInotifyEvent:end]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		out = append(out, rawEvent{wd: int(ev.Wd), name: string(name), mask: ev.Mask, overflow: ev.Mask&unix.IN_Q_OVERFLOW != 0})
		buf = buf[end:]
	}
	return out
}

// resolve turns raw events into directory events, using the owner's map.
func (w *watcher) resolve(raw []rawEvent) []dirEvent {
	out := make([]dirEvent, 0, len(raw))
	for _, ev := range raw {
		if ev.overflow {
			out = append(out, dirEvent{overflow: true})
			continue
		}
		if ev.mask&unix.IN_IGNORED != 0 {
			if dir, ok := w.byWD[ev.wd]; ok {
				w.forget(dir)
			}
			continue
		}
		dir, ok := w.byWD[ev.wd]
		if !ok || ev.name == "" || ev.mask&unix.IN_ISDIR == 0 {
			continue
		}
		created := ev.mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0
		out = append(out, dirEvent{path: filepath.Join(dir, ev.name), created: created})
	}
	return out
}

func (w *watcher) close() error { return w.file.Close() }

// forgetIfAny is forget on a possibly nil watcher.
func (w *watcher) forgetIfAny(dir string) {
	if w != nil {
		w.forget(dir)
	}
}
