package procs

import (
	"bytes"
	"slices"
	"strconv"
)

// refresh re-reads one process from /proc, as an event about it or an
// admission asks, and updates the pod or host processes to match: gone
// (or a zombie) is dropped, a new command or start time recorded, a move
// between cgroups followed. It reports whether the pod view changed and
// whether the host processes did.
func (sc *scanner) refresh(pid int) (podChanged, hostChanged bool) {
	st, alive := sc.readStat(pid)
	var cg []byte
	if alive {
		b, err := sc.rd.read(sc.rd.pidPath(sc.opts.ProcRoot, pid, "cgroup"))
		alive = err == nil
		cg = b
	}
	if !alive {
		return sc.drop(pid)
	}
	ref, line, inPod := ParseProcCgroup(cg)
	if !inPod || ref.Conmon {
		_, podChanged = sc.pods[pid]
		delete(sc.pods, pid)
		old, known := sc.host[pid]
		p := st.proc(pid)
		sc.host[pid] = p
		return podChanged, !known || old != p
	}
	dir := sc.hier.dir(line)
	if t, ok := sc.pods[pid]; ok && t.stat == st && t.ref == ref && t.dir == dir {
		return false, false
	}
	sc.pods[pid] = &tracked{ref: ref, dir: dir, stat: st, threads: threads(sc.opts.ProcRoot, pid), young: true}
	if _, polled := sc.dirs[dir]; dir != "" && !polled {
		sc.dirs[dir] = ref
	}
	_, hostChanged = sc.host[pid]
	delete(sc.host, pid)
	return true, hostChanged
}

// refreshThreads re-reads the threads of pid if the index keeps them: for
// pod processes, and for watched processes outside pods. Threads in exited
// are left out: /proc lists an exiting thread for a moment after its exit
// event.
func (sc *scanner) refreshThreads(pid int, exited map[int]bool) (podChanged, hostChanged bool) {
	if t, ok := sc.pods[pid]; ok {
		th := liveThreads(sc.opts.ProcRoot, pid, exited)
		if slices.Equal(th, t.threads) {
			return false, false
		}
		t.threads = th
		return true, false
	}
	if old, ok := sc.hostThreads[pid]; ok {
		th := liveThreads(sc.opts.ProcRoot, pid, exited)
		if slices.Equal(th, old) {
			return false, false
		}
		sc.hostThreads[pid] = th
		return false, true
	}
	return false, false
}

// liveThreads is threads without those in exited.
func liveThreads(procRoot string, pid int, exited map[int]bool) []int {
	th := threads(procRoot, pid)
	if len(exited) > 0 {
		th = slices.DeleteFunc(th, func(tid int) bool { return exited[tid] })
	}
	return th
}

// drop forgets a process that is gone.
func (sc *scanner) drop(pid int) (podChanged, hostChanged bool) {
	_, podChanged = sc.pods[pid]
	_, hostChanged = sc.host[pid]
	delete(sc.pods, pid)
	delete(sc.host, pid)
	if _, ok := sc.hostThreads[pid]; ok {
		delete(sc.hostThreads, pid)
		hostChanged = true
	}
	return podChanged, hostChanged
}

// pfExiting is the kernel's PF_EXITING task flag: set before the exit
// event is sent, and shown in /proc/<pid>/stat's flags field.
const pfExiting = 0x4

// exited reports whether a /proc/<pid>/stat shows a process that is
// exiting or has exited: PF_EXITING set, or state Z (zombie) or X (dead).
// The kernel may deliver a child's fork event after its exit event (they
// are sent from different CPUs), so a process read after its fork event
// may already be on its way out.
func exited(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	if stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return true
	}
	// After ") ": state ppid pgrp session tty_nr tpgid flags.
	f := bytes.Fields(stat[i+1:])
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	return err == nil && flags&pfExiting != 0
}

// admit looks pids up in /proc now, adds those the index has not seen (or
// whose PID a new process took), and publishes if anything changed. It
// returns the sequence number of a published snapshot that shows every
// one of them still alive.
func (sc *scanner) admit(pids []int) uint64 {
	changed := false
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		pc, hc := sc.refresh(pid)
		changed = changed || pc || hc || sc.unpublished(pid)
	}
	if changed {
		sc.publish(true)
	}
	return sc.ix.Snapshot().Seq
}

// unpublished reports whether the scanner knows pid as a process outside
// pods that the current snapshot lacks or shows otherwise: events update
// such processes without publishing (see applyEvents).
func (sc *scanner) unpublished(pid int) bool {
	p, known := sc.host[pid]
	if !known {
		return false
	}
	got, ok := sc.ix.Snapshot().Process(pid)
	return !ok || got != p
}
