package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestBurstThenRate(t *testing.T) {
	l := New(1, 3, 100) // 1/s, 3 at once
	for i := range 3 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("a", t0)
	if ok || retry != time.Second {
		t.Fatalf("4th request = %v, retry after %s; want refused, 1s", ok, retry)
	}
	// The refused request did not count: after 1s one more is allowed, and
	// only one.
	if ok, _ := l.Allow("a", t0.Add(time.Second)); !ok {
		t.Error("refused after waiting the time it was told")
	}
	if ok, retry := l.Allow("a", t0.Add(time.Second)); ok || retry != time.Second {
		t.Errorf("second request after 1s = %v, %s", ok, retry)
	}
	// Another key has its own bucket.
	if ok, _ := l.Allow("b", t0); !ok {
		t.Error("key b refused for key a's requests")
	}
}

func TestForgetsIdleKeys(t *testing.T) {
	l := New(2, 4, 100) // full again 2s after the last request
	l.Allow("a", t0)
	l.Allow("b", t0.Add(time.Second))
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	l.Allow("c", t0.Add(2*time.Second)) // a is idle for 2s: forgotten
	if n := l.Len(); n != 2 {
		t.Errorf("Len after a went idle = %d, want 2 (b and c)", n)
	}
	l.Allow("c", t0.Add(10*time.Second))
	if n := l.Len(); n != 1 {
		t.Errorf("Len after b went idle = %d, want 1", n)
	}
}

func TestBoundedKeys(t *testing.T) {
	l := New(1, 1, 3)
	for i := range 10 {
		if ok, _ := l.Allow(fmt.Sprint(i), t0); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if n := l.Len(); n != 3 {
		t.Errorf("Len = %d, want the bound 3", n)
	}
	// The most recent keys are the ones remembered.
	if ok, _ := l.Allow("9", t0); ok {
		t.Error("key 9 was forgotten; want the least recently seen forgotten first")
	}
	if ok, _ := l.Allow("0", t0); !ok {
		t.Error("key 0 is still remembered")
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:41234":           "192.0.2.7",
		"[::ffff:192.0.2.7]:41234":  "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:80": "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:80": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":         "fe80::/64",
		"@":                         "@",
		"not-an-address:1":          "not-an-address",
	} {
		if got := ClientKey(addr); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
