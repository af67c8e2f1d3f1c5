package strategy

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
)

// lateAdmitter stands for the process index: asked to admit PIDs, it
// answers with the Seq of a snapshot that has them, and the pod view shows
// that snapshot only a moment later, as the real joiner's debounce does.
type lateAdmitter struct {
	views *settableView
	mu    sync.Mutex
	asked [][]int
}

func (a *lateAdmitter) AdmitPIDs(_ context.Context, pids []int) (uint64, error) {
	a.mu.Lock()
	a.asked = append(a.asked, slices.Clone(pids))
	a.mu.Unlock()
	var host []procs.Process
	for _, pid := range pids {
		host = append(host, procs.Process{Proc: procs.Proc{PID: pid, Command: "new", StartTime: 99}})
	}
	s := procs.NewSnapshot(1, time.Unix(0, 0), nil, host)
	s.Seq = 7
	go func() {
		time.Sleep(20 * time.Millisecond)
		a.views.set(podview.Build(1, s, meta{}))
	}()
	return s.Seq, nil
}

// A pid strategy for a process the view does not show yet is admitted at
// write time, and the write answers only once its resolution has it; a
// PID the view already shows is not looked up again.
func TestWriteAdmitsUnseenPID(t *testing.T) {
	views := newSettableView(testView(t, 11))
	adm := &lateAdmitter{views: views}
	f := startFixture(t, fixtureOptions{views: views, service: ServiceOptions{Admit: adm}})
	ctx := context.Background()
	if _, err := f.service.ReplaceAll(ctx, []Strategy{{Priority: BoolPriority(true), ExecutionTime: 5e6, PID: 4242}}); err != nil {
		t.Fatal(err)
	}
	snap := f.resolver.Snapshot()
	if !slices.ContainsFunc(snap.Entries, func(e Entry) bool { return e.PID == 4242 }) {
		t.Fatalf("the write answered before a resolution with PID 4242: %+v", snap.Entries)
	}
	if _, err := f.service.Put(ctx, Strategy{Name: "seen", Priority: BoolPriority(true), ExecutionTime: 5e6, PID: 4242}); err != nil {
		t.Fatal(err)
	}
	adm.mu.Lock()
	defer adm.mu.Unlock()
	if want := [][]int{{4242}}; !slices.EqualFunc(adm.asked, want, slices.Equal[[]int]) {
		t.Errorf("admitted %v, want %v (a PID in view is not looked up)", adm.asked, want)
	}
}
