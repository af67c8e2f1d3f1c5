package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", []time.Duration{7}, 50, 7},
		{"single p99", []time.Duration{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 100, 100 * time.Millisecond},
		{"tiny p rounds up to the first", hundred, 0.001, 1 * time.Millisecond},
		{"p50 of four is the second", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p51 of four is the third", []time.Duration{1, 2, 3, 4}, 51, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	want := latencySummary{P50: 5, P90: 9, P99: 10, Max: 10}
	if s != want {
		t.Errorf("summarize = %+v, want %+v", s, want)
	}
	if s := summarize(nil); s != (latencySummary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", s)
	}
}
