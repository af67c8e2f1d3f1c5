package metrics

import "time"

// minRateSpan is the shortest span of samples a rate is computed over.
// Samples of one batch are stamped nanoseconds apart; a rate over them
// would be meaningless.
const minRateSpan = time.Second

// Summary describes the records of a time window: per-second rates of the
// counters and min/avg/max of the gauges.
type Summary struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Samples int       `json:"samples"`
	// Rates are per-second increases of each counter. They need samples
	// spanning at least one second and are empty otherwise.
	Rates map[string]float64 `json:"rates"`
	// Increases are the counters' total increases over the window.
	Increases map[string]uint64 `json:"increases"`
	// Resets counts scheduler restarts seen in the window: a counter that
	// went down, or a new usersched_pid.
	Resets int                   `json:"resets"`
	Gauges map[string]GaugeStats `json:"gauges"`
}

// GaugeStats are the minimum, mean and maximum of a gauge.
type GaugeStats struct {
	Min uint64  `json:"min"`
	Avg float64 `json:"avg"`
	Max uint64  `json:"max"`
}

// Summarize computes the summary of recs, which must be ordered oldest
// first and lie within [from, to].
//
// A counter's increase between two samples is the difference of its values,
// except across a restart, where the counter started again from zero and the
// increase is the new value. Rates therefore never go negative.
func Summarize(recs []Record, from, to time.Time) Summary {
	s := Summary{
		From: from, To: to, Samples: len(recs),
		Rates:     map[string]float64{},
		Increases: map[string]uint64{},
		Gauges:    map[string]GaugeStats{},
	}
	if len(recs) == 0 {
		return s
	}
	var inc [len(fields)]uint64
	for i := 1; i < len(recs); i++ {
		prev, cur := &recs[i-1].Sample, &recs[i].Sample
		restart := restarted(prev, cur)
		if restart {
			s.Resets++
		}
		for j, f := range fields {
			if f.Kind != Counter {
				continue
			}
			if restart {
				inc[j] += f.Get(cur)
			} else {
				inc[j] += f.Get(cur) - f.Get(prev)
			}
		}
	}
	for j, f := range fields {
		switch f.Kind {
		case Counter:
			if len(recs) < 2 {
				continue
			}
			s.Increases[f.Name] = inc[j]
			if span := recs[len(recs)-1].ReceivedAt.Sub(recs[0].ReceivedAt); span >= minRateSpan {
				s.Rates[f.Name] = float64(inc[j]) / span.Seconds()
			}
		case Gauge:
			g := GaugeStats{Min: f.Get(&recs[0].Sample)}
			var sum float64
			for i := range recs {
				v := f.Get(&recs[i].Sample)
				g.Min, g.Max = min(g.Min, v), max(g.Max, v)
				sum += float64(v)
			}
			g.Avg = sum / float64(len(recs))
			s.Gauges[f.Name] = g
		}
	}
	return s
}

// restarted reports whether the scheduler restarted between prev and cur.
func restarted(prev, cur *Sample) bool {
	if prev.UserschedPID != 0 && cur.UserschedPID != 0 && prev.UserschedPID != cur.UserschedPID {
		return true
	}
	for _, f := range fields {
		if f.Kind == Counter && f.Get(cur) < f.Get(prev) {
			return true
		}
	}
	return false
}
