// Package procs maps the node's processes to the pods and containers whose
// cgroups they run in. It parses cgroup paths of every layout a kubelet
// produces, scans /proc, and keeps an index fresh from cgroup events, a fast
// poll of container cgroups and a periodic full reconcile. Readers get
// immutable, versioned snapshots; no reader ever touches /proc.
package procs

import (
	"bytes"
	"strings"
)

// QoS is a pod's Kubernetes QoS class, as its cgroup placement shows it.
type QoS string

// QoS classes.
const (
	Guaranteed QoS = "guaranteed"
	Burstable  QoS = "burstable"
	BestEffort QoS = "besteffort"
)

// Container runtimes, as the cgroup scope prefix names them. A cgroupfs
// layout names no runtime; then Runtime is empty.
const (
	Containerd = "containerd"
	CRIO       = "cri-o"
	Docker     = "docker"
)

// CgroupRef is what a cgroup path says about the process in it.
type CgroupRef struct {
	// PodUID is the pod's UID in canonical dashed form, or for a static
	// pod the kubelet's 32-hex config hash.
	PodUID string
	QoS    QoS
	// ContainerID is the 64-hex container ID; empty when the process sits
	// in the pod's own cgroup rather than a container's.
	ContainerID string
	Runtime     string
	// Conmon marks CRI-O's container monitor: it runs in the pod's cgroup
	// next to the container but is not the container's process.
	Conmon bool
}

// ParseCgroupPath reads pod UID, QoS class and container from one cgroup
// path. ok is false for paths outside any pod (host processes, system
// services) and for malformed ones. Only whole path segments are matched.
//
// Layouts understood:
//
//	systemd:   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
//	           /kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope           (Guaranteed)
//	cgroupfs:  /kubepods/besteffort/pod<uid>/<id>, /kubepods/pod<uid>/<id>
//	nested:    either of the above below a prefix, e.g. /kubelet.slice/kubelet-kubepods.slice/…
//	           or /system.slice/docker-<node>.scope/kubepods/…
//	mismatch:  /system.slice/containerd.service/kubepods-besteffort-pod<uid_>.slice:cri-containerd:<id>
func ParseCgroupPath(path string) (CgroupRef, bool) {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if strings.IndexByte(seg, ':') >= 0 {
			return parseMismatch(seg)
		}
		if ref, ok := parseSystemdPodSlice(seg); ok {
			return withContainer(ref, segs[i+1:])
		}
		if ref, ok := parseCgroupfsPod(segs[:i], seg); ok {
			return withContainer(ref, segs[i+1:])
		}
	}
	return CgroupRef{}, false
}

// withContainer completes ref from the segments below the pod's cgroup.
// Deeper segments (sub-cgroups a container made) still belong to it.
func withContainer(ref CgroupRef, rest []string) (CgroupRef, bool) {
	if len(rest) == 0 || rest[0] == "" {
		return ref, true
	}
	id, runtime, conmon, ok := parseContainerSegment(rest[0])
	if !ok {
		return CgroupRef{}, false
	}
	ref.ContainerID, ref.Runtime, ref.Conmon = id, runtime, conmon
	return ref, true
}

// parseSystemdPodSlice reads "[kubelet-]kubepods[-<qos>]-pod<uid_>.slice".
func parseSystemdPodSlice(seg string) (CgroupRef, bool) {
	name, ok := strings.CutSuffix(seg, ".slice")
	if !ok {
		return CgroupRef{}, false
	}
	name = strings.TrimPrefix(name, "kubelet-")
	rest, ok := strings.CutPrefix(name, "kubepods-")
	if !ok {
		return CgroupRef{}, false
	}
	qos := Guaranteed
	if r, ok := strings.CutPrefix(rest, "burstable-"); ok {
		qos, rest = Burstable, r
	} else if r, ok := strings.CutPrefix(rest, "besteffort-"); ok {
		qos, rest = BestEffort, r
	}
	uid, ok := strings.CutPrefix(rest, "pod")
	if !ok {
		return CgroupRef{}, false
	}
	canon, ok := canonicalUID(strings.ReplaceAll(uid, "_", "-"))
	if !ok {
		return CgroupRef{}, false
	}
	return CgroupRef{PodUID: canon, QoS: qos}, true
}

// parseCgroupfsPod reads "pod<uid>" right below "kubepods" or
// "kubepods/<qos>".
func parseCgroupfsPod(parents []string, seg string) (CgroupRef, bool) {
	uid, ok := strings.CutPrefix(seg, "pod")
	if !ok || len(parents) == 0 {
		return CgroupRef{}, false
	}
	canon, ok := canonicalUID(uid)
	if !ok {
		return CgroupRef{}, false
	}
	n := len(parents)
	switch {
	case parents[n-1] == "kubepods":
		return CgroupRef{PodUID: canon, QoS: Guaranteed}, true
	case n >= 2 && parents[n-2] == "kubepods" && parents[n-1] == "burstable":
		return CgroupRef{PodUID: canon, QoS: Burstable}, true
	case n >= 2 && parents[n-2] == "kubepods" && parents[n-1] == "besteffort":
		return CgroupRef{PodUID: canon, QoS: BestEffort}, true
	}
	return CgroupRef{}, false
}

// parseMismatch reads "<pod slice>:<runtime prefix>:<id>", the form a
// runtime using cgroupfs paths leaves under a systemd-driven kubelet.
func parseMismatch(seg string) (CgroupRef, bool) {
	slice, rest, _ := strings.Cut(seg, ":")
	prefix, id, ok := strings.Cut(rest, ":")
	if !ok {
		return CgroupRef{}, false
	}
	ref, ok := parseSystemdPodSlice(slice)
	if !ok || !isContainerID(id) {
		return CgroupRef{}, false
	}
	switch prefix {
	case "cri-containerd":
		ref.Runtime = Containerd
	case "crio":
		ref.Runtime = CRIO
	case "docker":
		ref.Runtime = Docker
	default:
		return CgroupRef{}, false
	}
	ref.ContainerID = id
	return ref, true
}

// parseContainerSegment reads a container's cgroup name: a systemd scope
// "<prefix>-<id>.scope", a cgroupfs "<prefix>-<id>", or a bare "<id>".
func parseContainerSegment(seg string) (id, runtime string, conmon, ok bool) {
	name := strings.TrimSuffix(seg, ".scope")
	for _, p := range []struct {
		prefix, runtime string
		conmon          bool
	}{
		{"cri-containerd-", Containerd, false},
		{"crio-conmon-", CRIO, true},
		{"crio-", CRIO, false},
		{"docker-", Docker, false},
	} {
		if rest, found := strings.CutPrefix(name, p.prefix); found {
			return rest, p.runtime, p.conmon, isContainerID(rest)
		}
	}
	if name == seg && isContainerID(name) {
		return name, "", false, true
	}
	return "", "", false, false
}

// isContainerID reports whether s is 64 lowercase hex digits.
func isContainerID(s string) bool {
	return len(s) == 64 && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// canonicalUID accepts a dashed UUID or a 32-hex static pod hash, in either
// case, and returns it in lowercase.
func canonicalUID(s string) (string, bool) {
	s = strings.ToLower(s)
	switch len(s) {
	case 32:
		return s, isLowerHex(s)
	case 36:
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return "", false
				}
			} else if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return "", false
			}
		}
		return s, true
	}
	return "", false
}

// CanonicalPodUID normalises a pod UID given by a user: dashes or the
// systemd underscores, any case. ok is false if it is no pod UID.
func CanonicalPodUID(s string) (string, bool) {
	return canonicalUID(strings.ReplaceAll(s, "_", "-"))
}

// CgroupLine is one line of /proc/<pid>/cgroup.
type CgroupLine struct {
	Hierarchy   string // "0" for cgroup v2
	Controllers string // "" for v2, "name=systemd", "pids", "cpu,cpuacct", …
	Path        string
}

// ParseProcCgroup picks the pod placement out of /proc/<pid>/cgroup. Lines
// are preferred in this order — the v2 line, then name=systemd, then pids,
// then the rest in file order — and the most preferred line whose path is
// in a pod wins, so hybrid v1/v2 nodes resolve whichever hierarchy the
// kubelet used. Each line is parsed once, and strings are made only for a
// line that could beat the best found so far.
func ParseProcCgroup(content []byte) (CgroupRef, CgroupLine, bool) {
	const none = 4
	var (
		best     CgroupLine
		bestRef  CgroupRef
		bestRank = none
	)
	for len(content) > 0 && bestRank > 0 {
		line, rest, _ := bytes.Cut(content, []byte{'\n'})
		content = rest
		h, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		ctrl, path, ok := bytes.Cut(rest, []byte{':'})
		if !ok || len(path) == 0 || path[0] != '/' && path[0] != '.' {
			continue
		}
		if rank := lineRank(h, ctrl); rank < bestRank {
			l := CgroupLine{Hierarchy: string(h), Controllers: string(ctrl), Path: string(path)}
			if ref, ok := ParseCgroupPath(l.Path); ok {
				best, bestRef, bestRank = l, ref, rank
			}
		}
	}
	return bestRef, best, bestRank != none
}

// lineRank orders a /proc/<pid>/cgroup line by preference: 0 for the v2
// line, 1 name=systemd, 2 a hierarchy with pids, 3 any other.
func lineRank(hierarchy, controllers []byte) int {
	switch {
	case string(hierarchy) == "0" && len(controllers) == 0:
		return 0
	case string(controllers) == "name=systemd":
		return 1
	}
	for c := range bytes.SplitSeq(controllers, []byte{','}) {
		if string(c) == "pids" {
			return 2
		}
	}
	return 3
}
