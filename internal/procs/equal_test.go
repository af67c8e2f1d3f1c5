package procs

import (
	"testing"

	"github.com/bss-api/bss-api/internal/testsupport/equaltest"
)

// Pod.Equal decides whether the index publishes a new version, so it must
// notice a change in anything a reader of the snapshot sees.
func TestPodEqual(t *testing.T) {
	base := func() Pod {
		return Pod{
			UID: uid, QoS: Burstable,
			Containers: []Container{{ID: cid, Runtime: Containerd, PIDs: []int{10}}},
			Processes: []Process{{
				Proc:        Proc{PID: 10, PPID: 1, Command: "app", StartTime: 100},
				ContainerID: cid, Threads: []int{10, 11},
			}},
		}
	}
	type change = equaltest.Change[Pod]
	equaltest.Run(t, base, func(a, b Pod) bool { return a.Equal(&b) }, equaltest.Cases[Pod]{
		Notice: []change{
			{Field: "UID", Apply: func(p *Pod) { p.UID = static }},
			{Field: "QoS", Apply: func(p *Pod) { p.QoS = Guaranteed }},
			{Field: "Containers", Apply: func(p *Pod) { p.Containers = append(p.Containers, Container{ID: cid2}) }},
			{Field: "Containers.ID", Apply: func(p *Pod) { p.Containers[0].ID = cid2 }},
			{Field: "Containers.Runtime", Apply: func(p *Pod) { p.Containers[0].Runtime = CRIO }},
			{Field: "Containers.Sandbox", Apply: func(p *Pod) { p.Containers[0].Sandbox = true }},
			{Field: "Containers.PIDs", Apply: func(p *Pod) { p.Containers[0].PIDs = []int{10, 12} }},
			{Field: "Processes", Apply: func(p *Pod) { p.Processes = nil }},
			{Field: "Processes.Proc.PID", Apply: func(p *Pod) { p.Processes[0].PID = 12 }},
			{Field: "Processes.Proc.PPID", Apply: func(p *Pod) { p.Processes[0].PPID = 2 }},
			{Field: "Processes.Proc.Command", Apply: func(p *Pod) { p.Processes[0].Command = "java" }},
			{Field: "Processes.Proc.StartTime", Apply: func(p *Pod) { p.Processes[0].StartTime = 101 }},
			{Field: "Processes.ContainerID", Apply: func(p *Pod) { p.Processes[0].ContainerID = "" }},
			{Field: "Processes.Threads", Apply: func(p *Pod) { p.Processes[0].Threads = []int{10} }},
		},
	})
}

// No threads known is no threads known, whether the list is nil or empty.
func TestProcessEqualNilAndEmptyThreads(t *testing.T) {
	a, b := Process{Proc: Proc{PID: 1}}, Process{Proc: Proc{PID: 1}, Threads: []int{}}
	if !a.Equal(b) {
		t.Error("nil and empty thread lists differ")
	}
}
