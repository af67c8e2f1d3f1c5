package metrics

import (
	"math"
	"testing"
	"time"
)

func rec(at time.Duration, s Sample) Record {
	return Record{ReceivedAt: time.Unix(1_750_000_000, 0).Add(at), Sample: s}
}

func TestSummarize(t *testing.T) {
	from, to := time.Unix(1_750_000_000, 0), time.Unix(1_750_000_100, 0)
	tests := []struct {
		name       string
		recs       []Record
		wantRate   map[string]float64
		wantInc    map[string]uint64
		wantResets int
		wantGauge  map[string]GaugeStats
	}{
		{
			name:      "no samples gives empty maps",
			recs:      nil,
			wantRate:  map[string]float64{},
			wantInc:   map[string]uint64{},
			wantGauge: map[string]GaugeStats{},
		},
		{
			name:      "one sample has gauges but no rates",
			recs:      []Record{rec(0, Sample{NrQueued: 4, NrUserDispatches: 10})},
			wantRate:  map[string]float64{},
			wantInc:   map[string]uint64{},
			wantGauge: map[string]GaugeStats{"nr_queued": {Min: 4, Avg: 4, Max: 4}},
		},
		{
			name: "steady counters",
			recs: []Record{
				rec(0, Sample{UserschedPID: 7, NrUserDispatches: 100, NrQueued: 2}),
				rec(10*time.Second, Sample{UserschedPID: 7, NrUserDispatches: 300, NrQueued: 6}),
				rec(20*time.Second, Sample{UserschedPID: 7, NrUserDispatches: 500, NrQueued: 4}),
			},
			wantRate:  map[string]float64{"nr_user_dispatches": 20, "nr_kernel_dispatches": 0},
			wantInc:   map[string]uint64{"nr_user_dispatches": 400},
			wantGauge: map[string]GaugeStats{"nr_queued": {Min: 2, Avg: 4, Max: 6}},
		},
		{
			name: "counter that goes down is a restart, never a negative rate",
			recs: []Record{
				rec(0, Sample{UserschedPID: 7, NrUserDispatches: 1000, NrKernelDispatches: 50}),
				rec(10*time.Second, Sample{UserschedPID: 7, NrUserDispatches: 40, NrKernelDispatches: 60}),
				rec(20*time.Second, Sample{UserschedPID: 7, NrUserDispatches: 140, NrKernelDispatches: 70}),
			},
			// After the restart the counters count from zero: +40 then +100;
			// the kernel counter restarts too: +60 then +10.
			wantRate:   map[string]float64{"nr_user_dispatches": 7, "nr_kernel_dispatches": 3.5},
			wantInc:    map[string]uint64{"nr_user_dispatches": 140, "nr_kernel_dispatches": 70},
			wantResets: 1,
		},
		{
			name: "new scheduler pid is a restart even when counters grew",
			recs: []Record{
				rec(0, Sample{UserschedPID: 7, NrUserDispatches: 10}),
				rec(10*time.Second, Sample{UserschedPID: 8, NrUserDispatches: 30}),
			},
			wantRate:   map[string]float64{"nr_user_dispatches": 3},
			wantInc:    map[string]uint64{"nr_user_dispatches": 30},
			wantResets: 1,
		},
		{
			name: "samples of one batch give no rate",
			recs: []Record{
				rec(0, Sample{NrUserDispatches: 10}),
				rec(time.Nanosecond, Sample{NrUserDispatches: 30}),
			},
			wantRate: map[string]float64{},
			wantInc:  map[string]uint64{"nr_user_dispatches": 20},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.recs, from, to)
			if got.Samples != len(tt.recs) {
				t.Errorf("Samples = %d, want %d", got.Samples, len(tt.recs))
			}
			if got.Resets != tt.wantResets {
				t.Errorf("Resets = %d, want %d", got.Resets, tt.wantResets)
			}
			for k, want := range tt.wantRate {
				if g, ok := got.Rates[k]; !ok || math.Abs(g-want) > 1e-9 {
					t.Errorf("Rates[%s] = %v (present %v), want %v", k, g, ok, want)
				}
			}
			if len(tt.wantRate) == 0 && len(got.Rates) != 0 {
				t.Errorf("Rates = %v, want none", got.Rates)
			}
			for k, r := range got.Rates {
				if r < 0 {
					t.Errorf("Rates[%s] = %v is negative", k, r)
				}
			}
			for k, want := range tt.wantInc {
				if g := got.Increases[k]; g != want {
					t.Errorf("Increases[%s] = %d, want %d", k, g, want)
				}
			}
			for k, want := range tt.wantGauge {
				if g := got.Gauges[k]; g != want {
					t.Errorf("Gauges[%s] = %+v, want %+v", k, g, want)
				}
			}
			if got.Rates == nil || got.Increases == nil || got.Gauges == nil {
				t.Error("a map is nil; it must encode as {} not null")
			}
		})
	}
}
