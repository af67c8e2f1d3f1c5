package notify

import "testing"

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
