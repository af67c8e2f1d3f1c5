package memory

import (
	"context"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

var t0 = time.Unix(1_750_000_000, 0)

func at(sec int) metrics.Record {
	return metrics.Record{ReceivedAt: t0.Add(time.Duration(sec) * time.Second), Sample: metrics.Sample{NrQueued: uint64(sec)}}
}

func queued(recs []metrics.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.NrQueued
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHistoryRangeAndLimits(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(100 * time.Second)
	h := NewHistory(5, time.Hour, func() time.Time { return now })
	for i := 1; i <= 8; i++ {
		if err := h.Append(ctx, []metrics.Record{at(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		q        metrics.Query
		want     []uint64
		wantMore bool
	}{
		{"count bound keeps the newest 5", metrics.Query{}, []uint64{4, 5, 6, 7, 8}, false},
		{"since is inclusive", metrics.Query{Since: at(6).ReceivedAt}, []uint64{6, 7, 8}, false},
		{"until is exclusive", metrics.Query{Until: at(6).ReceivedAt}, []uint64{4, 5}, false},
		{"limit takes the oldest and says more", metrics.Query{Limit: 2}, []uint64{4, 5}, true},
		{"limit equal to matches", metrics.Query{Limit: 5}, []uint64{4, 5, 6, 7, 8}, false},
		{"empty range", metrics.Query{Since: at(50).ReceivedAt}, []uint64{}, false},
		{"until before since", metrics.Query{Since: at(7).ReceivedAt, Until: at(5).ReceivedAt}, []uint64{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more, err := h.Range(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(queued(got), tt.want) || more != tt.wantMore {
				t.Errorf("Range() = %v more=%v, want %v more=%v", queued(got), more, tt.want, tt.wantMore)
			}
		})
	}
}

func TestHistoryAgeBound(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(10 * time.Second)
	h := NewHistory(100, 5*time.Second, func() time.Time { return now })
	if err := h.Append(ctx, []metrics.Record{at(1), at(4), at(6), at(9)}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := h.Range(ctx, metrics.Query{})
	if want := []uint64{6, 9}; !equal(queued(got), want) {
		t.Errorf("after age trim: %v, want %v", queued(got), want)
	}
	now = now.Add(3 * time.Second) // 6 is now too old, even without an append
	got, _, _ = h.Range(ctx, metrics.Query{})
	if want := []uint64{9}; !equal(queued(got), want) {
		t.Errorf("reading later: %v, want %v", queued(got), want)
	}
}

func TestHistoryOutOfOrderAppend(t *testing.T) {
	ctx := context.Background()
	h := NewHistory(100, time.Hour, func() time.Time { return t0.Add(time.Minute) })
	for _, s := range []int{1, 3, 5, 2, 4, 0} {
		if err := h.Append(ctx, []metrics.Record{at(s)}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, _ := h.Range(ctx, metrics.Query{})
	if want := []uint64{0, 1, 2, 3, 4, 5}; !equal(queued(got), want) {
		t.Errorf("order = %v, want %v", queued(got), want)
	}
	last, ok, _ := h.Latest(ctx)
	if !ok || last.NrQueued != 5 {
		t.Errorf("Latest() = %v, %v; want 5", last.NrQueued, ok)
	}
}

func TestHistoryReturnsCopies(t *testing.T) {
	ctx := context.Background()
	h := NewHistory(10, time.Hour, func() time.Time { return t0.Add(time.Minute) })
	_ = h.Append(ctx, []metrics.Record{at(1)})
	got, _, _ := h.Range(ctx, metrics.Query{})
	got[0].NrQueued = 99
	again, _, _ := h.Range(ctx, metrics.Query{})
	if again[0].NrQueued != 1 {
		t.Error("modifying a returned slice changed the stored record")
	}
}

func BenchmarkHistoryAppend(b *testing.B) {
	ctx := context.Background()
	h := NewHistory(100_000, time.Hour, time.Now)
	i := 0
	for b.Loop() {
		i++
		_ = h.Append(ctx, []metrics.Record{{ReceivedAt: t0.Add(time.Duration(i))}})
	}
}

// TestHistoryRingInvariants appends with age drops in every phase (growing,
// full, wrapped) and checks the contents against a plain slice model.
func TestHistoryRingInvariants(t *testing.T) {
	ctx := context.Background()
	now := t0
	h := NewHistory(300, 50*time.Second, func() time.Time { return now })
	var model []uint64
	for i := 1; i <= 2000; i++ {
		now = t0.Add(time.Duration(i) * time.Second)
		if err := h.Append(ctx, []metrics.Record{at(i)}); err != nil {
			t.Fatal(err)
		}
		model = append(model, uint64(i))
		cutoff := uint64(max(i-50, 0))
		for len(model) > 0 && (model[0] < cutoff || len(model) > 300) {
			model = model[1:]
		}
		got, _, _ := h.Range(ctx, metrics.Query{})
		if !equal(queued(got), model) {
			t.Fatalf("after %d appends: %d records %v…, want %d %v…", i, len(got), head(queued(got)), len(model), head(model))
		}
	}
	if c := cap(h.ring); c > 300 {
		t.Errorf("ring capacity %d exceeds the bound", c)
	}
	if c := cap(h.ring); c > 256 {
		t.Errorf("ring capacity %d, want it to follow the live count (51)", c)
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 5)] }
