package procs

import "slices"

// poll reads cgroup.procs of every cgroup that holds a pod process and
// applies the difference to the pod processes: new PIDs are read from
// /proc, PIDs that left are re-read to see where they went. With nothing
// changed it costs one small read per cgroup, and no allocation that
// grows with the number of processes.
func (sc *scanner) poll() {
	changed := false
	sc.pollGen++
	pids := sc.pidBuf[:0]
	for dir, ref := range sc.dirs {
		b, err := sc.rd.read(dir + "/cgroup.procs")
		if err != nil {
			if gone(err) {
				delete(sc.dirs, dir)
				sc.watch.forgetIfAny(dir)
			}
			continue
		}
		pids = parsePIDList(b, pids[:0])
		for _, pid := range pids {
			t, known := sc.pods[pid]
			if known && (t.dir == dir || t.ref.ContainerID == ref.ContainerID) {
				if t.dir == dir {
					t.polled = sc.pollGen
				}
				if t.young && sc.recheck(pid, t) {
					changed = true
				}
				continue
			}
			st, ok := sc.readStat(pid)
			if !ok {
				continue
			}
			sc.pods[pid] = &tracked{ref: ref, dir: dir, stat: st, threads: threads(sc.opts.ProcRoot, pid), young: true, polled: sc.pollGen}
			delete(sc.host, pid)
			changed = true
		}
	}
	sc.pidBuf = pids
	// Pod processes their cgroup no longer lists, or whose cgroup is gone
	// or could not be read: they exited, or moved.
	left := sc.leftBuf[:0]
	for pid, t := range sc.pods {
		if t.dir != "" && t.polled != sc.pollGen {
			left = append(left, pid)
		}
	}
	for _, pid := range left {
		sc.reattribute(pid)
		changed = true
	}
	sc.leftBuf = left
	hostChanged := sc.pollWatched()
	if changed || hostChanged {
		sc.publish(hostChanged)
	}
}

// pollWatched re-reads the PIDs strategies target that are outside pods,
// and their threads, which the index keeps only for them: a full scan is
// too rare to notice such a PID exit or be reused. It reports whether any
// changed.
func (sc *scanner) pollWatched() bool {
	changed := false
	var pids []int
	if w := sc.ix.watched.Load(); w != nil {
		pids = *w
	}
	watched := map[int]bool{}
	for _, pid := range pids {
		if _, inPod := sc.pods[pid]; inPod {
			continue
		}
		watched[pid] = true
		st, ok := sc.readStat(pid)
		old, known := sc.host[pid]
		switch {
		case !ok && known:
			delete(sc.host, pid)
			changed = true
		case ok && (!known || old.StartTime != st.StartTime):
			sc.host[pid] = st.proc(pid)
			changed = true
		}
		if !ok {
			continue
		}
		if th := threads(sc.opts.ProcRoot, pid); !slices.Equal(th, sc.hostThreads[pid]) {
			sc.hostThreads[pid] = th
			changed = true
		}
	}
	for pid := range sc.hostThreads {
		if !watched[pid] || sc.host[pid].PID == 0 {
			delete(sc.hostThreads, pid)
			changed = true
		}
	}
	return changed
}

// reattribute rereads where a pod process that left its cgroup went: it
// exited, moved to another pod cgroup, or left the pods altogether.
func (sc *scanner) reattribute(pid int) {
	delete(sc.pods, pid)
	cg, err := sc.rd.read(sc.rd.pidPath(sc.opts.ProcRoot, pid, "cgroup"))
	if err != nil {
		return
	}
	ref, line, inPod := ParseProcCgroup(cg)
	st, ok := sc.readStat(pid)
	if !ok {
		return
	}
	if inPod && !ref.Conmon {
		dir := sc.hier.dir(line)
		sc.pods[pid] = &tracked{ref: ref, dir: dir, stat: st, threads: threads(sc.opts.ProcRoot, pid), young: true}
		if _, polled := sc.dirs[dir]; dir != "" && !polled {
			sc.dirs[dir] = ref
		}
		return
	}
	sc.host[pid] = st.proc(pid)
}

// recheck re-reads a young pod process's stat: it reports whether the
// process exec'd another program (a new command) or the PID now belongs to
// another process (a new start time), and updates t.
func (sc *scanner) recheck(pid int, t *tracked) bool {
	st, ok := sc.readStat(pid)
	if !ok || st == t.stat {
		return false // gone (its cgroup's next poll drops it) or unchanged
	}
	if st.StartTime != t.stat.StartTime {
		t.threads = threads(sc.opts.ProcRoot, pid)
	}
	t.stat = st
	return true
}
