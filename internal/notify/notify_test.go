package notify

import (
	"testing"
	"testing/synctest"
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

// The batch runs on a synctest bubble's clock, so the test can wait hours
// for a second firing that must not come, at no cost in wall time.
func TestBatchFiresOncePerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBatch()
		defer b.Stop()
		start := time.Now()
		b.Arm(time.Millisecond)
		b.Arm(time.Hour) // already armed: must not push the deadline out
		<-b.C()
		if waited := time.Since(start); waited != time.Millisecond {
			t.Errorf("fired after %v, want the first Arm's 1ms", waited)
		}
		b.Fired()
		select {
		case <-b.C():
			t.Fatal("fired twice for one burst")
		case <-time.After(2 * time.Hour):
		}
		b.Arm(time.Millisecond) // a new burst after Fired
		<-b.C()
		b.Fired()
	})
}

func TestNextClosesAtTheNextChange(t *testing.T) {
	var n Notifier
	first, second := n.Next(), n.Next()
	if first != second {
		t.Error("two waiters before a change got different channels")
	}
	select {
	case <-first:
		t.Fatal("closed before any change")
	default:
	}
	n.Changed()
	<-first // closed: must not block
	later := n.Next()
	select {
	case <-later:
		t.Fatal("a channel taken after the change is already closed")
	default:
	}
	n.Changed()
	<-later
}
