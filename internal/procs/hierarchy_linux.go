package procs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// hierarchy is one mounted cgroup hierarchy under the cgroup root.
type hierarchy struct {
	root string // filesystem directory
	v2   bool
	name string // v1: controllers or "name=…"; v2: ""
}

type hierarchies []hierarchy

// findHierarchies finds the hierarchies the kubelet puts pods in: the v2
// tree (at the root, or at unified/ on hybrid hosts), and the v1
// name=systemd and pids trees.
func findHierarchies(root string) hierarchies {
	var hs hierarchies
	if exists(filepath.Join(root, "cgroup.controllers")) {
		return hierarchies{{root: root, v2: true}}
	}
	if u := filepath.Join(root, "unified"); exists(filepath.Join(u, "cgroup.controllers")) {
		hs = append(hs, hierarchy{root: u, v2: true})
	}
	for _, v1 := range []struct{ dir, name string }{{"systemd", "name=systemd"}, {"pids", "pids"}} {
		if d := filepath.Join(root, v1.dir); exists(filepath.Join(d, "cgroup.procs")) {
			hs = append(hs, hierarchy{root: d, name: v1.name})
		}
	}
	return hs
}

// dir maps a /proc/<pid>/cgroup line to a directory, or "" when the line's
// hierarchy is not one polled or the path is relative to a cgroup namespace.
func (hs hierarchies) dir(line CgroupLine) string {
	if strings.Contains(line.Path, "/..") {
		return ""
	}
	for _, h := range hs {
		if (h.v2 && line.Hierarchy == "0" && line.Controllers == "") || (!h.v2 && line.Controllers == h.name) {
			return filepath.Join(h.root, line.Path)
		}
	}
	return ""
}

// of returns the hierarchy that contains path.
func (hs hierarchies) of(path string) (hierarchy, bool) {
	for _, h := range hs {
		if strings.HasPrefix(path, h.root+"/") || path == h.root {
			return h, true
		}
	}
	return hierarchy{}, false
}

// isKubepodsRoot reports whether a cgroup directory name is the top cgroup
// of a kubelet's pods, under either cgroup driver or a nested kubelet.
func isKubepodsRoot(name string) bool {
	switch name {
	case "kubepods", "kubepods.slice", "kubelet-kubepods.slice":
		return true
	}
	return false
}

// discover finds kubepods trees in h (up to four levels down, which covers
// nested nodes) and walks them.
func (sc *scanner) discover(h hierarchy) {
	var find func(dir string, depth int)
	find = func(dir string, depth int) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if isKubepodsRoot(e.Name()) {
				sc.walk(h, p, 0)
			} else if depth < 3 {
				find(p, depth+1)
			}
		}
	}
	find(h.root, 0)
}

// walk watches dir (a kubepods, QoS or pod cgroup) and records the
// container cgroups below it. Container cgroups themselves are polled, not
// watched: what appears inside them is processes, not pods.
func (sc *scanner) walk(h hierarchy, dir string, depth int) {
	rel := strings.TrimPrefix(dir, h.root)
	if ref, ok := ParseCgroupPath(rel); ok && ref.ContainerID != "" {
		if !ref.Conmon {
			sc.dirs[dir] = ref
		}
		return
	}
	if sc.watch != nil {
		if err := sc.watch.add(dir); err != nil {
			sc.ix.watchErrs.Add(1)
			sc.log.Debug("cannot watch cgroup", "dir", dir, "err", err)
		}
	}
	if depth > 4 {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			sc.walk(h, filepath.Join(dir, e.Name()), depth+1)
		}
	}
}

// exists reports whether p may exist: only a definite "does not exist"
// rules a hierarchy out, so one merely unreadable is still tried.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
