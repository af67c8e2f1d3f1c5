package audit

import (
	"fmt"
	"testing"
	"time"
)

func TestRefusalLimiterGlobalBound(t *testing.T) {
	l := newRefusalLimiter()
	recorded := 0
	for i := range 1000 { // a flood from ever new addresses, all at once
		if ok, _ := l.admit(refusalKey{client: fmt.Sprintf("10.1.%d.%d", i/256, i%256), route: "r"}, t0); ok {
			recorded++
		}
	}
	if recorded != globalRefusalBurst {
		t.Errorf("%d of 1000 refusals from distinct clients recorded, want the global burst of %d", recorded, globalRefusalBurst)
	}
	if ok, _ := l.admit(refusalKey{client: "10.2.0.1", route: "r"}, t0.Add(time.Second)); !ok {
		t.Error("a second later the global allowance has not refilled")
	}
}

// The table of allowances is bounded: past maxKeys new keys share one
// allowance, and idle ones are forgotten to make room.
func TestRefusalLimiterTableBound(t *testing.T) {
	l := newRefusalLimiter()
	l.maxKeys = 3
	l.global.SetBurstAt(t0, 1000)
	key := func(i int) refusalKey { return refusalKey{client: fmt.Sprint(i), route: "r"} }
	for i := range 3 {
		l.admit(key(i), t0)
	}
	l.admit(key(3), t0)
	if _, ok := l.keys[key(3)]; ok || len(l.keys) != 3 {
		t.Errorf("a full table took a new key: %v", l.keys)
	}
	if l.overflow == nil || l.overflow.lim.TokensAt(t0) != refusalBurst-1 {
		t.Error("the new key did not use the shared overflow allowance")
	}
	// Once the first three have refilled (idle for burst × every), a sweep
	// forgets them and the new key gets its own allowance.
	later := t0.Add(refusalBurst * refusalEvery)
	l.admit(key(4), later)
	if _, ok := l.keys[key(4)]; !ok || len(l.keys) != 1 {
		t.Errorf("after the idle ones were swept, table = %v", l.keys)
	}
}
