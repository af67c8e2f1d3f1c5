package bssctl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestRealProcesses: real processes in kubelet-like cgroups (root), named by
// a mock pod file, seen through get pods, get strategies and explain.
func TestRealProcesses(t *testing.T) {
	hs := testenv.CgroupHierarchies(t)
	progs := testenv.NewPrograms(t)
	h := hs[0]
	tree := testenv.NewCgroupTree(t, h)
	uid, sandboxID, appID := testenv.RandomUID(), testenv.RandomContainerID(), testenv.RandomContainerID()
	pod := "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	tree.Mkdir(pod + "/cri-containerd-" + sandboxID + ".scope")
	tree.Mkdir(pod + "/cri-containerd-" + appID + ".scope")
	pause := progs.Start("pause", 0)
	tree.Move(pause.PID, pod+"/cri-containerd-"+sandboxID+".scope")
	app := progs.Start("bss-real-app", 2)
	tree.Move(app.PID, pod+"/cri-containerd-"+appID+".scope")

	mock := writeFile(t, "pods.yaml", fmt.Sprintf("%s:\n  name: real-0\n  namespace: realns\n  labels: {app: real}\n  containers:\n    %s: worker\n", uid, appID))
	srv := startServer(t, serverOpts{real: true, cgroupRoot: h.CgroupRoot, mockPods: mock})
	if _, err := srv.api.PutDefinition(context.Background(), "real", client.Strategy{Priority: 1, ExecutionTime: 3_000_000,
		Namespaces: []string{"realns"}, CommandRegex: "^bss-real-app$", Threads: true}); err != nil {
		t.Fatal(err)
	}

	type row struct {
		Pod, Container, Command, Strategy string
		PID                               int
		Sandbox                           bool
	}
	var rows []row
	waitFor(t, 20*time.Second, "both processes in get pods", func() bool {
		r := srv.run(t, nil, "get", "pods", "-n", "realns", "-o", "json").ok(t, "get pods")
		rows = nil
		return json.Unmarshal([]byte(r.out), &rows) == nil && len(rows) == 2
	})
	got := map[int]row{}
	for _, r := range rows {
		got[r.PID] = r
	}
	if r := got[app.PID]; r.Pod != "real-0" || r.Container != "worker" || r.Command != "bss-real-app" || r.Strategy != "real" {
		t.Errorf("the app process %d shows as %+v, want real-0/worker bss-real-app won by real", app.PID, r)
	}
	if r := got[pause.PID]; !r.Sandbox || r.Strategy != "" {
		t.Errorf("the pause process %d shows as %+v, want the sandbox, no strategy", pause.PID, r)
	}

	r := srv.run(t, nil, "get", "pods", "-n", "realns").ok(t, "get pods table")
	if !strings.Contains(r.out, fmt.Sprintf("realns     real-0  worker     %d", app.PID)) {
		t.Errorf("get pods table:\n%s", r.out)
	}
	// threads: true gives the two threads entries of their own.
	r = srv.run(t, nil, "get", "strategies", "-o", "wide").ok(t, "get strategies -o wide")
	if n := strings.Count(r.out, fmt.Sprintf(" %d\n", app.PID)); n != 2 {
		t.Errorf("get strategies -o wide shows %d threads of %d, want 2:\n%s", n, app.PID, r.out)
	}
	r = srv.run(t, nil, "explain", fmt.Sprint(app.PID)).ok(t, "explain")
	for _, want := range []string{"Pod:        realns/real-0", "Winner:     real", "Slice:      3ms", "Command:    bss-real-app"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("explain %d lacks %q:\n%s", app.PID, want, r.out)
		}
	}
	srv.run(t, nil, "explain", fmt.Sprint(pause.PID)).fails(t, "explain the sandbox", 3, "no strategy matches PID")

	// The process exits: it leaves the strategies, and explain says so.
	app.Kill()
	waitFor(t, 20*time.Second, "the exited process leaving get strategies", func() bool {
		r := srv.run(t, nil, "get", "strategies").ok(t, "get strategies")
		return !strings.Contains(r.out, fmt.Sprint(app.PID))
	})
	srv.run(t, nil, "explain", fmt.Sprint(app.PID)).fails(t, "explain an exited PID", 3, "not a process of a pod on this node")
}
