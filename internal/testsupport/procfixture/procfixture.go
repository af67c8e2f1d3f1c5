// Package procfixture writes synthetic /proc trees: many processes, some in
// kubelet-style pod cgroups. Benchmarks and the load command use it to run
// the process index at node sizes a test machine does not have.
package procfixture

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Spec sizes a fixture tree.
type Spec struct {
	Processes int // all processes
	Pods      int // pods; each gets a sandbox and an application container
	// PodProcesses is how many of the processes run in pods, spread over
	// the pods' application containers (each pod also has one pause).
	PodProcesses int
	Threads      int // extra threads per pod process
}

// Write creates the tree in dir (which must exist) and returns the number
// of processes in pods.
func Write(dir string, s Spec) (int, error) {
	pid := 100
	inPods := 0
	next := func() int { pid++; return pid }
	for p := range s.Pods {
		uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", p, p)
		slice := fmt.Sprintf("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice",
			filepathSafe(uid))
		sandboxID, appID := containerID(p, 0), containerID(p, 1)
		if err := WriteProcess(dir, Process{PID: next(), Comm: "pause", Cgroup: slice + "/cri-containerd-" + sandboxID + ".scope"}); err != nil {
			return 0, err
		}
		inPods++
		perPod := 0
		if s.Pods > 0 {
			perPod = (s.PodProcesses - s.Pods) / s.Pods
		}
		for i := 0; i < max(perPod, 1); i++ {
			app := Process{PID: next(), Comm: fmt.Sprintf("app-%d", i), Cgroup: slice + "/cri-containerd-" + appID + ".scope", Threads: s.Threads}
			if err := WriteProcess(dir, app); err != nil {
				return 0, err
			}
			inPods++
		}
	}
	for pid-100 < s.Processes {
		if err := WriteProcess(dir, Process{PID: next(), Comm: "worker", Cgroup: "/system.slice/worker.service"}); err != nil {
			return 0, err
		}
	}
	return inPods, nil
}

func filepathSafe(uid string) string {
	b := []byte(uid)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func containerID(pod, n int) string {
	return fmt.Sprintf("%056x%08x", pod+1, n)
}

// Process is one /proc/<pid> entry.
type Process struct {
	PID  int
	Comm string
	// Cgroup is the process's cgroup v2 path, e.g. /system.slice/x.service.
	Cgroup string
	// Threads is how many threads it has besides the main one; their TIDs
	// are PID*100+1, PID*100+2, ….
	Threads int
}

// WriteProcess writes p's /proc entry below root (which must exist): stat,
// comm, cgroup and task/. Its parent is PID 1 and its start time 1000+PID,
// so rewriting an entry with another Comm looks like an exec.
func WriteProcess(root string, p Process) error {
	dir := filepath.Join(root, strconv.Itoa(p.PID))
	if err := os.MkdirAll(filepath.Join(dir, "task", strconv.Itoa(p.PID)), 0o755); err != nil {
		return err
	}
	for t := 1; t <= p.Threads; t++ {
		if err := os.MkdirAll(filepath.Join(dir, "task", strconv.Itoa(p.PID*100+t)), 0o755); err != nil {
			return err
		}
	}
	stat := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 %d 0 %d 1000000 100\n",
		p.PID, p.Comm, p.PID, p.PID, p.Threads+1, 1000+p.PID)
	files := map[string]string{
		"cgroup": "0::" + p.Cgroup + "\n",
		"stat":   stat,
		"comm":   p.Comm + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
