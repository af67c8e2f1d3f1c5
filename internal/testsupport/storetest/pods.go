package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
)

// testPods holds Backend.Pods to kube.PodStore's contract: nothing before
// a save, a save read back as saved (every byte, the time to the
// nanosecond), a save replacing the node's record and no other node's,
// data that is the caller's, and all of it without Run.
func testPods(t *testing.T, newBackend New) {
	ctx := context.Background()
	b := newBackend(t, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	ps := b.Pods()
	if rec, ok, err := ps.LoadPods(ctx, "node-a"); err != nil || ok {
		t.Fatalf("LoadPods before any save = %+v, %v, %v; want nothing", rec, ok, err)
	}
	binary := make([]byte, 256) // every byte value: a backend that treats data as text fails
	for i := range binary {
		binary[i] = byte(i)
	}
	at := t0.Add(123456789 * time.Nanosecond)
	saved := kube.SavedPods{Data: bytes.Clone(binary), SavedAt: at}
	if err := ps.SavePods(ctx, "node-a", saved); err != nil {
		t.Fatalf("SavePods = %v", err)
	}
	saved.Data[0] ^= 0xff // the caller's: the store keeps its own copy
	check := func(node string, want []byte, wantAt time.Time) {
		t.Helper()
		got, ok, err := ps.LoadPods(ctx, node)
		if err != nil || !ok || !bytes.Equal(got.Data, want) || !got.SavedAt.Equal(wantAt) {
			t.Errorf("LoadPods(%s) = %x at %v, %v, %v; want %x at %v", node, got.Data, got.SavedAt, ok, err, want, wantAt)
		}
		if ok && len(got.Data) > 0 {
			got.Data[0] ^= 0xff // the caller's: the next load is unchanged
		}
	}
	check("node-a", binary, at)
	check("node-a", binary, at)

	later := at.Add(time.Minute)
	if err := ps.SavePods(ctx, "node-b", kube.SavedPods{Data: []byte(`{"b":1}`), SavedAt: later}); err != nil {
		t.Fatalf("SavePods(node-b) = %v", err)
	}
	if err := ps.SavePods(ctx, "node-a", kube.SavedPods{Data: []byte(`{"a":2}`), SavedAt: later}); err != nil {
		t.Fatalf("SavePods(node-a) again = %v", err)
	}
	check("node-a", []byte(`{"a":2}`), later)
	check("node-b", []byte(`{"b":1}`), later)
	if _, ok, err := ps.LoadPods(ctx, "node-c"); err != nil || ok {
		t.Errorf("LoadPods of a node never saved = %v, %v; want nothing", ok, err)
	}
}
