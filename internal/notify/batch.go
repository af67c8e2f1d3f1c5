package notify

import "time"

// Batch turns a burst of wake-ups into one piece of work: the first Arm
// of a burst starts a timer, later ones until it fires change nothing.
// It belongs to one goroutine (the loop that selects on C); it is not
// safe for concurrent use. The zero value is not ready; use NewBatch.
type Batch struct {
	timer *time.Timer
	armed bool
}

// NewBatch returns a disarmed Batch.
func NewBatch() *Batch {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Batch{timer: t}
}

// Arm starts the timer to fire after d, unless it is already running.
func (b *Batch) Arm(d time.Duration) {
	if !b.armed {
		b.armed = true
		b.timer.Reset(d)
	}
}

// C fires once per armed burst. The loop that receives from it must call
// Fired before doing the work, so wake-ups during the work arm a new
// burst.
func (b *Batch) C() <-chan time.Time { return b.timer.C }

// Fired disarms the batch after C fired.
func (b *Batch) Fired() { b.armed = false }

// Stop disarms the batch and releases its timer.
func (b *Batch) Stop() {
	b.timer.Stop()
	b.armed = false
}
