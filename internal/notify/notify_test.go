package notify

import (
	"testing"
	"time"
)

func TestNotifierCoalesces(t *testing.T) {
	var n Notifier
	ch, cancel := n.Subscribe()
	n.Changed()
	n.Changed() // coalesced with the first: the channel holds one
	<-ch
	select {
	case <-ch:
		t.Fatal("two notifications for changes made before the subscriber looked")
	default:
	}
	if n.Version() != 2 {
		t.Errorf("Version() = %d, want 2", n.Version())
	}
	cancel()
	n.Changed()
	select {
	case <-ch:
		t.Fatal("notified after cancel")
	default:
	}
}

func TestBatchFiresOncePerBurst(t *testing.T) {
	b := NewBatch()
	defer b.Stop()
	b.Arm(time.Millisecond)
	b.Arm(time.Hour) // already armed: must not push the deadline out
	<-b.C()
	b.Fired()
	select {
	case <-b.C():
		t.Fatal("fired twice for one burst")
	case <-time.After(20 * time.Millisecond):
	}
	b.Arm(time.Millisecond) // a new burst after Fired
	<-b.C()
	b.Fired()
}
