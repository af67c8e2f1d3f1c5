// Package summarycases holds the cases of a metric summary that
// metrics.Summarize and every store's History.Summary must answer alike:
// metrics tests Summarize with them, storetest every backend.
package summarycases

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
)

// The window every case is summarised over.
var (
	From = time.Unix(1_750_000_000, 0).UTC()
	To   = time.Unix(1_750_000_100, 0).UTC()
)

// Case is records and what their summary must say.
type Case struct {
	Name       string
	Recs       []metrics.Record // oldest first, within [From, To]
	WantRate   map[string]float64
	WantInc    map[string]uint64
	WantResets int
	WantGauge  map[string]GaugeStats
}

// GaugeStats is metrics.GaugeStats, named here for brevity.
type GaugeStats = metrics.GaugeStats

func rec(at time.Duration, s metrics.Sample) metrics.Record {
	return metrics.Record{ReceivedAt: From.Add(at), Sample: s}
}

// Cases returns the cases, fresh for each caller.
func Cases() []Case {
	type sample = metrics.Sample
	return []Case{
		{
			Name:      "no samples gives empty maps",
			Recs:      nil,
			WantRate:  map[string]float64{},
			WantInc:   map[string]uint64{},
			WantGauge: map[string]GaugeStats{},
		},
		{
			Name:      "one sample has gauges but no rates",
			Recs:      []metrics.Record{rec(0, sample{NrQueued: 4, NrUserDispatches: 10})},
			WantRate:  map[string]float64{},
			WantInc:   map[string]uint64{},
			WantGauge: map[string]GaugeStats{"nr_queued": {Min: 4, Avg: 4, Max: 4}},
		},
		{
			Name: "steady counters",
			Recs: []metrics.Record{
				rec(0, sample{UserschedPID: 7, NrUserDispatches: 100, NrQueued: 2}),
				rec(10*time.Second, sample{UserschedPID: 7, NrUserDispatches: 300, NrQueued: 6}),
				rec(20*time.Second, sample{UserschedPID: 7, NrUserDispatches: 500, NrQueued: 4}),
			},
			WantRate:  map[string]float64{"nr_user_dispatches": 20, "nr_kernel_dispatches": 0},
			WantInc:   map[string]uint64{"nr_user_dispatches": 400},
			WantGauge: map[string]GaugeStats{"nr_queued": {Min: 2, Avg: 4, Max: 6}},
		},
		{
			Name: "counter that goes down is a restart, never a negative rate",
			Recs: []metrics.Record{
				rec(0, sample{UserschedPID: 7, NrUserDispatches: 1000, NrKernelDispatches: 50}),
				rec(10*time.Second, sample{UserschedPID: 7, NrUserDispatches: 40, NrKernelDispatches: 60}),
				rec(20*time.Second, sample{UserschedPID: 7, NrUserDispatches: 140, NrKernelDispatches: 70}),
			},
			// After the restart the counters count from zero: +40 then +100;
			// the kernel counter restarts too: +60 then +10.
			WantRate:   map[string]float64{"nr_user_dispatches": 7, "nr_kernel_dispatches": 3.5},
			WantInc:    map[string]uint64{"nr_user_dispatches": 140, "nr_kernel_dispatches": 70},
			WantResets: 1,
		},
		{
			Name: "new scheduler pid is a restart even when counters grew",
			Recs: []metrics.Record{
				rec(0, sample{UserschedPID: 7, NrUserDispatches: 10}),
				rec(10*time.Second, sample{UserschedPID: 8, NrUserDispatches: 30}),
			},
			WantRate:   map[string]float64{"nr_user_dispatches": 3},
			WantInc:    map[string]uint64{"nr_user_dispatches": 30},
			WantResets: 1,
		},
		{
			Name: "samples of one batch give no rate",
			Recs: []metrics.Record{
				rec(0, sample{NrUserDispatches: 10}),
				rec(time.Nanosecond, sample{NrUserDispatches: 30}),
			},
			WantRate: map[string]float64{},
			WantInc:  map[string]uint64{"nr_user_dispatches": 20},
		},
	}
}

// Check reports every way got, the summary of c.Recs over [From, To],
// differs from what c wants.
func (c Case) Check(t testing.TB, got metrics.Summary) {
	t.Helper()
	if got.Samples != len(c.Recs) {
		t.Errorf("Samples = %d, want %d", got.Samples, len(c.Recs))
	}
	if !got.From.Equal(From) || !got.To.Equal(To) {
		t.Errorf("window = %v..%v, want %v..%v", got.From, got.To, From, To)
	}
	if got.Resets != c.WantResets {
		t.Errorf("Resets = %d, want %d", got.Resets, c.WantResets)
	}
	for k, want := range c.WantRate {
		if g, ok := got.Rates[k]; !ok || math.Abs(g-want) > 1e-9 {
			t.Errorf("Rates[%s] = %v (present %v), want %v", k, g, ok, want)
		}
	}
	if len(c.WantRate) == 0 && len(got.Rates) != 0 {
		t.Errorf("Rates = %v, want none", got.Rates)
	}
	for k, r := range got.Rates {
		if r < 0 {
			t.Errorf("Rates[%s] = %v is negative", k, r)
		}
	}
	for k, want := range c.WantInc {
		if g := got.Increases[k]; g != want {
			t.Errorf("Increases[%s] = %d, want %d", k, g, want)
		}
	}
	for k, want := range c.WantGauge {
		if g := got.Gauges[k]; g != want {
			t.Errorf("Gauges[%s] = %+v, want %+v", k, g, want)
		}
	}
	if got.Rates == nil || got.Increases == nil || got.Gauges == nil {
		t.Error("a map is nil; it must encode as {} not null")
	}
}

// RandomRecords returns n records from start on, oldest first, that
// exercise every path of a summary: counters that grow, scheduler
// restarts (a new PID, or counters that go down), values near the top of
// uint64, gauges anywhere, and runs of records a nanosecond apart (one
// batch) between gaps of up to a second.
func RandomRecords(rng *rand.Rand, start time.Time, n int) []metrics.Record {
	out := make([]metrics.Record, n)
	at := start
	cur := metrics.Sample{UserschedPID: 100}
	for _, f := range metrics.Fields() {
		if f.Kind == metrics.Counter {
			f.Set(&cur, rng.Uint64()) // some start near the top
		}
	}
	for i := range out {
		if rng.IntN(8) == 0 {
			at = at.Add(time.Duration(rng.Int64N(int64(time.Second))))
		} else {
			at = at.Add(time.Nanosecond)
		}
		switch rng.IntN(200) {
		case 0: // a restart with a new PID
			cur = metrics.Sample{UserschedPID: cur.UserschedPID + 1}
		case 1: // a restart the counters tell
			cur = metrics.Sample{UserschedPID: cur.UserschedPID}
		}
		for _, f := range metrics.Fields() {
			switch f.Kind {
			case metrics.Gauge:
				if rng.IntN(16) == 0 {
					f.Set(&cur, math.MaxUint64-rng.Uint64N(1000))
				} else {
					f.Set(&cur, rng.Uint64N(1<<20))
				}
			case metrics.Counter:
				v := f.Get(&cur)
				if d := rng.Uint64N(1 << 40); v < math.MaxUint64-d {
					f.Set(&cur, v+d)
				}
			}
		}
		out[i] = metrics.Record{ReceivedAt: at, Sample: cur}
	}
	return out
}
