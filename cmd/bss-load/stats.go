package main

import (
	"math"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// latencySummary condenses a sorted latency slice.
type latencySummary struct {
	P50, P90, P99, Max time.Duration
}

func summarize(sorted []time.Duration) latencySummary {
	s := latencySummary{
		P50: percentile(sorted, 50),
		P90: percentile(sorted, 90),
		P99: percentile(sorted, 99),
	}
	if len(sorted) > 0 {
		s.Max = sorted[len(sorted)-1]
	}
	return s
}
