package strategy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
)

// benchView is 500 pods of 20 processes (10,000), each pod labelled
// app=app-<i%50>, nf=<one of 5>, in one of 10 namespaces.
func benchView(b *testing.B) *podview.View {
	b.Helper()
	const podsN, perPod = 500, 20
	pods := make([]procs.Pod, podsN)
	m := meta{}
	pid := 1000
	for i := range pods {
		uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		sbx, app := fmt.Sprintf("%063x%d", i, 0), fmt.Sprintf("%063x%d", i, 1)
		p := procs.Pod{UID: uid, QoS: procs.Burstable, Containers: []procs.Container{{ID: sbx, Sandbox: true}, {ID: app}}}
		p.Processes = append(p.Processes, testProc{pid: pid, command: "pause", container: sbx, start: 1}.process())
		pid++
		for j := 1; j < perPod; j++ {
			worker := testProc{pid: pid, command: fmt.Sprintf("worker-%d", j%7), container: app, start: 2, threads: []int{pid + 100000}}
			p.Processes = append(p.Processes, worker.process())
			pid++
		}
		pods[i] = p
		m[uid] = kube.PodMeta{UID: uid, Name: fmt.Sprintf("pod-%d", i), Namespace: fmt.Sprintf("ns-%d", i%10),
			Labels:     map[string]string{"app": fmt.Sprintf("app-%d", i%50), "nf": []string{"upf", "smf", "amf", "gnb", "ue"}[i%5]},
			Containers: map[string]kube.ContainerMeta{app: {Name: "app"}}}
	}
	return podview.Build(1, procs.NewSnapshot(1, time.Unix(0, 0), pods, nil), m)
}

// benchStrategies are n strategies of mixed kinds, most matching a few
// pods each, so the resolver does real matching work.
func benchStrategies(n int) []Strategy {
	out := make([]Strategy, n)
	for i := range out {
		s := Strategy{Name: fmt.Sprintf("s-%d", i), ExecutionTime: 1_000_000, Priority: BoolPriority(i%2 == 0)}
		switch i % 4 {
		case 0:
			s.Selectors = []LabelSelector{{"app", fmt.Sprintf("app-%d", i%60)}}
		case 1:
			s.Namespaces = []string{fmt.Sprintf("ns-%d", i%12)}
			s.CommandRegex = fmt.Sprintf("^worker-%d$", i%9)
		case 2:
			s.Selectors = []LabelSelector{{"nf", "upf"}}
			s.CommandRegex = fmt.Sprintf("worker-[%d]", i%8)
			s.Threads = true
		case 3:
			s.PID = uint32(1000 + i*7)
		}
		out[i] = s
	}
	return out
}

// BenchmarkResolve resolves 100 and 1,000 strategies over 10,000
// processes in 500 pods: winners only; with complete match counts, as the
// background resolver does after a change; and with every match recorded,
// as GET explain does.
func BenchmarkResolve(b *testing.B) {
	v := benchView(b)
	for _, n := range []int{100, 1000} {
		for _, d := range []struct {
			name  string
			depth Depth
		}{{"winners", Winners}, {"counts", Counts}, {"explain", Explain}} {
			b.Run(fmt.Sprintf("strategies=%d/procs=10000/%s", n, d.name), func(b *testing.B) {
				cs := mustCompile(b, benchStrategies(n))
				var entries int
				for b.Loop() {
					entries = len(mustResolve(b, cs, v, Bindings{}, d.depth).Entries)
				}
				b.ReportMetric(float64(entries), "entries")
			})
		}
	}
}

// BenchmarkPreview previews 1,000 strategies over 10,000 processes in 500
// pods, as POST preview does: the list checked against the limits,
// compiled, and resolved with complete match counts. "attack" is the
// issue's 1,000 strategies of a 945-byte regex, refused by the checks.
func BenchmarkPreview(b *testing.B) {
	r := NewResolver(ResolverOptions{Views: newSettableView(benchView(b)), Node: testNode})
	svc := NewService(ServiceOptions{Resolver: r, Node: testNode})
	attack := make([]Strategy, 1000)
	for i := range attack {
		attack[i] = Strategy{ExecutionTime: 1000, CommandRegex: attackRegex}
	}
	for _, tt := range []struct {
		name  string
		list  []Strategy
		valid bool
	}{{"normal", benchStrategies(1000), true}, {"attack", attack, false}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := svc.Preview(context.Background(), tt.list); (err == nil) != tt.valid {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReload is what a server does after one strategy of 1,000
// changed elsewhere (one custom resource edited): read the list again,
// check and compile it, and resolve the view.
func BenchmarkReload(b *testing.B) {
	const n = 1000
	list := make([]Strategy, n)
	for i := range list {
		list[i] = Strategy{Name: fmt.Sprintf("s-%05d", i), ExecutionTime: uint64(1_000_000 + i), Priority: LevelPriority(1),
			PID: 1000, Nodes: []string{fmt.Sprintf("node-%03d", i%100)}}
	}
	list[0].Nodes = nil
	store := &fakeStore{list: list}
	r := NewResolver(ResolverOptions{Store: store, Views: newSettableView(benchView(b)), Node: "node-007"})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		store.list[0].ExecutionTime = uint64(2_000_000 + i)
		if err := r.reload(ctx); err != nil {
			b.Fatal(err)
		}
		r.publish(ctx)
	}
}
