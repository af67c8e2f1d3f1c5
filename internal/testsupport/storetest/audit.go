package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/auth"
)

// change is a record of a PUT with every field set.
func change(at time.Time) audit.Record {
	return audit.Record{
		At: at, Node: "n1", Identity: "system:serviceaccount:ops:deployer", Role: "", Credential: auth.MethodKubernetes,
		Method: "PUT", Route: "/api/v1/scheduling/strategies/definitions/{name}", Path: "/api/v1/scheduling/strategies/definitions/upf",
		Client: "[2001:db8::1]:51234", Outcome: audit.Allowed, Status: 200,
		Change: &audit.Change{
			Before:      []json.RawMessage{json.RawMessage(`{"name":"upf","priority":false,"execution_time":1000,"command_regex":"^upf$"}`)},
			After:       []json.RawMessage{json.RawMessage(`{"name":"upf","priority":true,"execution_time":2000,"command_regex":"^upf$"}`)},
			BeforeCount: 1, AfterCount: 1, Truncated: true,
		},
	}
}

// refusal is a record of a refused write.
func refusal(at time.Time, status int) audit.Record {
	return audit.Record{
		At: at, Node: "n1", Credential: audit.PresentedBearer, Method: "POST", Route: "/api/v1/metrics", Path: "/api/v1/metrics",
		Client: "10.0.0.7:40000", Outcome: audit.Denied, Status: status, Reason: "invalid credentials", Suppressed: 3,
	}
}

func appendAll(t *testing.T, s audit.Store, recs ...audit.Record) {
	t.Helper()
	for _, r := range recs {
		if _, err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// times lists the records' times, as durations after t0.
func times(recs []audit.Record) []time.Duration {
	out := make([]time.Duration, len(recs))
	for i, r := range recs {
		out[i] = r.At.Sub(t0)
	}
	return out
}

func testAudit(t *testing.T, newBackend New) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	clock := func() time.Time { return now }
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

	t.Run("round trip", func(t *testing.T) {
		s := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Audit: audit.Retention{MaxAge: 24 * time.Hour, MaxCount: 100}, Now: clock}).Audit()
		if got, more, err := s.Range(ctx, audit.Query{}); err != nil || more || got == nil || len(got) != 0 {
			t.Fatalf("Range on empty = %v, %v, %v; want [], no more", got, more, err)
		}
		want := []audit.Record{change(sec(1)), refusal(sec(2), 403)}
		appendAll(t, s, want...)
		got, more, err := s.Range(ctx, audit.Query{})
		if err != nil || more {
			t.Fatalf("Range = more %v, %v", more, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("records came back as\n%+v\nwant\n%+v", got, want)
		}
		got[0].Change.Before[0][2] = 'X'
		if again, _, _ := s.Range(ctx, audit.Query{}); !reflect.DeepEqual(again[0], want[0]) {
			t.Error("modifying a returned record changed the stored one")
		}
	})
	t.Run("order and range", func(t *testing.T) {
		s := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Audit: audit.Retention{MaxAge: 24 * time.Hour, MaxCount: 100}, Now: clock}).Audit()
		appendAll(t, s, refusal(sec(4), 401), change(sec(1)), refusal(sec(3), 429), change(sec(2)), change(sec(5)))
		tests := []struct {
			name     string
			q        audit.Query
			want     []int
			wantMore bool
		}{
			{"all, oldest first", audit.Query{}, []int{1, 2, 3, 4, 5}, false},
			{"limit", audit.Query{Limit: 2}, []int{1, 2}, true},
			{"limit equal to matches", audit.Query{Limit: 5}, []int{1, 2, 3, 4, 5}, false},
			{"since is inclusive", audit.Query{Since: sec(3)}, []int{3, 4, 5}, false},
			{"until is exclusive", audit.Query{Until: sec(3)}, []int{1, 2}, false},
			{"since and limit", audit.Query{Since: sec(2), Limit: 2}, []int{2, 3}, true},
			{"empty", audit.Query{Since: sec(9)}, []int{}, false},
		}
		for _, tt := range tests {
			got, more, err := s.Range(ctx, tt.q)
			want := make([]time.Duration, len(tt.want))
			for i, n := range tt.want {
				want[i] = time.Duration(n) * time.Second
			}
			if err != nil || more != tt.wantMore || !reflect.DeepEqual(times(got), want) {
				t.Errorf("%s: Range = %v more %v (%v), want %v more %v", tt.name, times(got), more, err, want, tt.wantMore)
			}
		}
	})
	t.Run("times are unique", func(t *testing.T) {
		s := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Audit: audit.Retention{MaxAge: 24 * time.Hour, MaxCount: 100}, Now: clock}).Audit()
		first, err := s.Append(ctx, change(sec(1)))
		if err != nil || !first.Equal(sec(1)) {
			t.Fatalf("Append = %v, %v; want %v", first, err, sec(1))
		}
		second, err := s.Append(ctx, refusal(sec(1), 401))
		if err != nil || !second.Equal(sec(1).Add(time.Nanosecond)) {
			t.Errorf("Append at a taken time = %v, %v; want a nanosecond later", second, err)
		}
		got, _, _ := s.Range(ctx, audit.Query{})
		if len(got) != 2 || !got[0].At.Equal(first) || !got[1].At.Equal(second) || got[1].Outcome != audit.Denied {
			t.Errorf("records = %+v", got)
		}
	})
	t.Run("retention", func(t *testing.T) {
		b := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Audit: audit.Retention{MaxAge: time.Minute, MaxCount: 2}, Now: clock})
		s := b.Audit()
		old := now.Add(-2 * time.Minute)
		appendAll(t, s, change(old))
		if got, _, _ := s.Range(ctx, audit.Query{}); len(got) != 0 {
			t.Errorf("a record past the retention age was returned: %v", times(got))
		}
		// Three of each outcome: the newest two of each stay. The refusals
		// are the newest records, yet they never push a change out.
		var recs []audit.Record
		for i := range 3 {
			recs = append(recs, change(now.Add(time.Duration(i-30)*time.Second)))
		}
		for i := range 3 {
			recs = append(recs, refusal(now.Add(time.Duration(i-10)*time.Second), 401))
		}
		appendAll(t, s, recs...)
		want := []time.Duration{}
		for _, r := range []audit.Record{recs[1], recs[2], recs[4], recs[5]} {
			want = append(want, r.At.Sub(t0))
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, _, err := s.Range(ctx, audit.Query{})
			if err == nil && reflect.DeepEqual(times(got), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("10s after the appends the records are %v (%v), want the newest two of each outcome %v", times(got), err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
