package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// podsView is GET /api/v1/pods/pids as a test reads it.
type podsView struct {
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	Pods      []struct {
		PodUID      string `json:"pod_uid"`
		ContainerID string `json:"container_id"`
		QoSClass    string `json:"qos_class"`
		Processes   []struct {
			PID         int    `json:"pid"`
			Command     string `json:"command"`
			PPID        int    `json:"ppid"`
			ContainerID string `json:"container_id"`
			Threads     []int  `json:"threads"`
		} `json:"processes"`
		Containers []struct {
			ContainerID string `json:"container_id"`
			Runtime     string `json:"runtime"`
			Sandbox     bool   `json:"sandbox"`
		} `json:"containers"`
	} `json:"pods"`
}

func getPods(t *testing.T, srv *testServer, query string) podsView {
	t.Helper()
	res := srv.API.Get(t, "/api/v1/pods/pids"+query)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/pods/pids%s = %d %s", query, res.StatusCode, res.Body)
	}
	var v podsView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// describe renders the pods of v that belong to uids as sorted lines
// "uid qos container pid command threads", for exact comparison.
func describePods(v podsView, uids []string) []string {
	var out []string
	for _, p := range v.Pods {
		if !slices.Contains(uids, p.PodUID) {
			continue
		}
		for _, c := range p.Containers {
			out = append(out, fmt.Sprintf("%s %s container %s runtime=%q sandbox=%v", p.PodUID, p.QoSClass, c.ContainerID[:12], c.Runtime, c.Sandbox))
		}
		for _, pr := range p.Processes {
			out = append(out, fmt.Sprintf("%s %s %s pid=%d %s threads=%d", p.PodUID, p.QoSClass, pr.ContainerID[:12], pr.PID, pr.Command, len(pr.Threads)))
		}
	}
	slices.Sort(out)
	return out
}

// layout builds kubelet-style cgroup paths for one driver.
type layout struct {
	name      string
	pod       func(qos, uid string) string // pod cgroup, below the test prefix
	container func(id string) string       // container cgroup, below the pod
	runtime   string                       // what the server should report
}

var layouts = []layout{
	{
		name: "systemd",
		pod: func(qos, uid string) string {
			u := strings.ReplaceAll(uid, "-", "_")
			if qos == "guaranteed" {
				return "kubepods.slice/kubepods-pod" + u + ".slice"
			}
			return "kubepods.slice/kubepods-" + qos + ".slice/kubepods-" + qos + "-pod" + u + ".slice"
		},
		container: func(id string) string { return "cri-containerd-" + id + ".scope" },
		runtime:   "containerd",
	},
	{
		name: "cgroupfs",
		pod: func(qos, uid string) string {
			if qos == "guaranteed" {
				return "kubepods/pod" + uid
			}
			return "kubepods/" + qos + "/pod" + uid
		},
		container: func(id string) string { return id },
		runtime:   "",
	},
}

// TestRealCgroupsPodPIDs builds kubelet-like cgroup trees in every writable
// hierarchy (v2 and v1) with both drivers' naming, puts real processes in
// them, and checks that the running server reports exactly those pods,
// containers and PIDs, and follows processes and containers coming and
// going. The full reconcile is set to an hour, so every change after start
// must come through cgroup events and polls.
func TestRealCgroupsPodPIDs(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	progs := testenv.NewPrograms(t)
	for _, h := range hs {
		for _, lay := range layouts {
			t.Run(h.Name+"/"+lay.name, func(t *testing.T) {
				testRealCgroups(t, h, lay, progs)
			})
		}
	}
}

func testRealCgroups(t *testing.T, h testenv.Hierarchy, lay layout, progs *testenv.Programs) {
	tree := testenv.NewCgroupTree(t, h)
	uidA, uidB := testenv.RandomUID(), testenv.RandomUID()
	sandboxA, appA := testenv.RandomContainerID(), testenv.RandomContainerID()
	appB := testenv.RandomContainerID()
	podA := lay.pod("burstable", uidA)
	podB := lay.pod("guaranteed", uidB)

	// Pod A exists before the server starts: the initial scan finds it.
	tree.Mkdir(podA + "/" + lay.container(sandboxA))
	tree.Mkdir(podA + "/" + lay.container(appA))
	pause := progs.Start("pause", 0)
	tree.Move(pause.PID, podA+"/"+lay.container(sandboxA))
	loki := progs.Start("loki", 3)
	tree.Move(loki.PID, podA+"/"+lay.container(appA))

	srv := startServer(t, nil, "--cgroup-root="+h.CgroupRoot, "--reconcile-interval=1h")
	uids := []string{uidA, uidB}
	rt := lay.runtime
	want := []string{
		fmt.Sprintf("%s burstable container %s runtime=%q sandbox=true", uidA, sandboxA[:12], rt),
		fmt.Sprintf("%s burstable container %s runtime=%q sandbox=false", uidA, appA[:12], rt),
		fmt.Sprintf("%s burstable %s pid=%d pause threads=1", uidA, sandboxA[:12], pause.PID),
		fmt.Sprintf("%s burstable %s pid=%d loki threads=4", uidA, appA[:12], loki.PID),
	}
	slices.Sort(want)
	waitPods(t, srv, uids, want, "the initial scan")

	// Pod B appears while the server runs: cgroup events and polls find it.
	tree.Mkdir(podB + "/" + lay.container(appB))
	gnb := progs.Start("nr-gnb", 1)
	tree.Move(gnb.PID, podB+"/"+lay.container(appB))
	want = append(want,
		fmt.Sprintf("%s guaranteed container %s runtime=%q sandbox=false", uidB, appB[:12], rt),
		fmt.Sprintf("%s guaranteed %s pid=%d nr-gnb threads=2", uidB, appB[:12], gnb.PID),
	)
	slices.Sort(want)
	entered := time.Now()
	v := waitPods(t, srv, uids, want, "a new pod")
	logLag(t, "a process entering a new pod", v.UpdatedAt, entered)

	// The seed's top-level container_id is the application, not the sandbox.
	for _, p := range v.Pods {
		if p.PodUID == uidA && p.ContainerID != appA {
			t.Errorf("pod A container_id = %s, want the application container %s", p.ContainerID, appA)
		}
	}
	if got := getPods(t, srv, "?pid="+fmt.Sprint(gnb.PID)); len(got.Pods) != 1 || got.Pods[0].PodUID != uidB {
		t.Errorf("?pid=%d found %d pods, want pod B", gnb.PID, len(got.Pods))
	}

	// A second process joins a running container.
	worker := progs.Start("loki-worker", 0)
	tree.Move(worker.PID, podA+"/"+lay.container(appA))
	want = append(want, fmt.Sprintf("%s burstable %s pid=%d loki-worker threads=1", uidA, appA[:12], worker.PID))
	slices.Sort(want)
	entered = time.Now()
	logLag(t, "a process joining a container", waitPods(t, srv, uids, want, "a process joining a container").UpdatedAt, entered)

	// A process exits.
	loki.Kill()
	want = slices.DeleteFunc(want, func(s string) bool { return strings.Contains(s, fmt.Sprintf("pid=%d ", loki.PID)) })
	left := time.Now()
	logLag(t, "a process exiting", waitPods(t, srv, uids, want, "an exited process to leave").UpdatedAt, left)

	// A container is removed.
	gnb.Kill()
	tree.Rmdir(podB + "/" + lay.container(appB))
	want = slices.DeleteFunc(want, func(s string) bool { return strings.HasPrefix(s, uidB) })
	left = time.Now()
	logLag(t, "a container being removed", waitPods(t, srv, uids, want, "a removed container to leave").UpdatedAt, left)

	// A process moved out of every pod leaves the pod view, and with it
	// the container it was the last process of.
	tree.Move(worker.PID, "")
	want = slices.DeleteFunc(want, func(s string) bool {
		return strings.Contains(s, fmt.Sprintf("pid=%d ", worker.PID)) || strings.Contains(s, "container "+appA[:12])
	})
	waitPods(t, srv, uids, want, "a process moved out of its pod")
}

// waitPods polls the server until the test's pods look exactly like want.
func waitPods(t *testing.T, srv *testServer, uids, want []string, what string) podsView {
	t.Helper()
	type seen struct {
		v   podsView
		got []string
	}
	return poll(t, 15*time.Second, what, func() (seen, bool) {
		v := getPods(t, srv, "?include_threads=true")
		got := describePods(v, uids)
		return seen{v, got}, slices.Equal(got, want)
	}).v
}
