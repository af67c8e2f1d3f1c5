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
		if ok, _ := l.admit(refusalKey(fmt.Sprintf("10.1.%d.%d:80", i/256, i%256), "r"), t0); ok {
			recorded++
		}
	}
	if recorded != globalRefusalBurst {
		t.Errorf("%d of 1000 refusals from distinct clients recorded, want the global burst of %d", recorded, globalRefusalBurst)
	}
	if ok, _ := l.admit(refusalKey("10.2.0.1:80", "r"), t0.Add(time.Second)); !ok {
		t.Error("a second later the global allowance has not refilled")
	}
}

// One IPv6 host commonly holds a whole /64: its addresses share one
// allowance.
func TestRefusalLimiterKeysIPv6ByNetwork(t *testing.T) {
	l := newRefusalLimiter()
	recorded := 0
	for i := range 3 * refusalBurst {
		if ok, _ := l.admit(refusalKey(fmt.Sprintf("[2001:db8::%x]:443", i+1), "r"), t0); ok {
			recorded++
		}
	}
	if recorded != refusalBurst {
		t.Errorf("%d refusals from one /64 recorded, want its burst of %d", recorded, refusalBurst)
	}
}

// The suppressed counts are bounded: past maxKeys a new key's refusals are
// not counted for its next record, until the counts of quiet keys are
// forgotten.
func TestRefusalLimiterCountsAreBounded(t *testing.T) {
	l := newRefusalLimiter()
	l.maxKeys = 3
	flood := func(key string, at time.Time) {
		for range refusalBurst + 1 {
			l.admit(key, at)
		}
	}
	for i := range 4 {
		flood(fmt.Sprint(i), t0)
	}
	if _, ok := l.suppressed["3"]; ok || len(l.suppressed) != 3 {
		t.Errorf("suppressed counts = %v, want those of the first three keys only", l.suppressed)
	}
	// Once the first three have been quiet long enough to have a full
	// allowance again, their counts make room.
	later := t0.Add(l.idle)
	flood("4", later)
	if _, ok := l.suppressed["4"]; !ok || len(l.suppressed) != 1 {
		t.Errorf("after the quiet keys were swept, suppressed counts = %v", l.suppressed)
	}
	if ok, n := l.admit("4", later.Add(refusalEvery)); !ok || n != 1 {
		t.Errorf("next record of key 4 = %v carrying %d, want recorded carrying 1", ok, n)
	}
}
