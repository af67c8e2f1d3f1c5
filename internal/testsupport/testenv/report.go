package testenv

import (
	"slices"
	"testing"
	"time"
)

// ReportPercentiles reports the p50, p99 and max of ds, in milliseconds,
// as the benchmark metrics WHAT-p50-ms, WHAT-p99-ms and WHAT-max-ms. It
// sorts ds.
func ReportPercentiles(b *testing.B, what string, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(p float64) float64 { return ms(ds[min(len(ds)-1, int(p*float64(len(ds))))]) }
	b.ReportMetric(at(0.50), what+"-p50-ms")
	b.ReportMetric(at(0.99), what+"-p99-ms")
	b.ReportMetric(ms(ds[len(ds)-1]), what+"-max-ms")
}
