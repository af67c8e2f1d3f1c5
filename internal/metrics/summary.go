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
	z := NewSummarizer(from, to)
	for i := range recs {
		z.Add(recs[i].ReceivedAt, &recs[i].Sample)
	}
	return z.Summary()
}

// Summarizer computes a Summary from records given one at a time, oldest
// first, and keeps none of them: memory stays the same whatever the
// window holds. Summarize is a Summarizer over a slice, so a store that
// feeds it the rows of a window answers exactly what Summarize would.
// Not safe for concurrent use.
type Summarizer struct {
	from, to    time.Time
	n           int
	first, last time.Time
	prev        Sample
	resets      int
	inc         [len(fields)]uint64 // counters: the increase so far
	lo, hi      [len(fields)]uint64 // gauges: the extremes so far
	sum         [len(fields)]float64
}

// NewSummarizer returns a Summarizer of the window [from, to].
func NewSummarizer(from, to time.Time) *Summarizer {
	return &Summarizer{from: from, to: to}
}

// Add takes the next record: received at at, after every record added
// before. s is read during the call only.
func (z *Summarizer) Add(at time.Time, s *Sample) {
	if z.n == 0 {
		z.first = at
		for j, f := range fields {
			if f.Kind == Gauge {
				z.lo[j] = f.Get(s)
			}
		}
	} else {
		restart := restarted(&z.prev, s)
		if restart {
			z.resets++
		}
		for j, f := range fields {
			if f.Kind != Counter {
				continue
			}
			if restart {
				z.inc[j] += f.Get(s)
			} else {
				z.inc[j] += f.Get(s) - f.Get(&z.prev)
			}
		}
	}
	for j, f := range fields {
		if f.Kind == Gauge {
			v := f.Get(s)
			z.lo[j], z.hi[j] = min(z.lo[j], v), max(z.hi[j], v)
			z.sum[j] += float64(v)
		}
	}
	z.n++
	z.last = at
	z.prev = *s
}

// Summary returns the summary of the records added so far.
func (z *Summarizer) Summary() Summary {
	s := Summary{
		From: z.from, To: z.to, Samples: z.n, Resets: z.resets,
		Rates:     map[string]float64{},
		Increases: map[string]uint64{},
		Gauges:    map[string]GaugeStats{},
	}
	if z.n == 0 {
		return s
	}
	span := z.last.Sub(z.first)
	for j, f := range fields {
		switch f.Kind {
		case Counter:
			if z.n < 2 {
				continue
			}
			s.Increases[f.Name] = z.inc[j]
			if span >= minRateSpan {
				s.Rates[f.Name] = float64(z.inc[j]) / span.Seconds()
			}
		case Gauge:
			s.Gauges[f.Name] = GaugeStats{Min: z.lo[j], Avg: z.sum[j] / float64(z.n), Max: z.hi[j]}
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
