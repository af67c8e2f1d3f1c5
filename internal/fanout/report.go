package fanout

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// at is the p-quantile of sorted d (nearest rank).
func at[T any](sorted []T, p float64) T {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Write prints the result as docs/performance.md quotes it.
func (r Result) Write(w io.Writer) {
	fmt.Fprintf(w, "fan-out: %d servers, %d ClusterSchedulingStrategy objects (mean %d bytes as JSON with status; the changed one %d), %d changes of one object\n",
		r.Servers, r.Strategies, r.MeanObjectBytes, r.ObjectBytes, r.Changes)
	fmt.Fprintf(w, "startup: all servers ready in %s, every status written in %s; kube-apiserver CPU %.2fs\n",
		r.Startup.Round(time.Millisecond), r.Settled.Round(time.Millisecond), r.StartupAPIServerC.Seconds())
	if len(r.Latency) > 0 {
		fmt.Fprintf(w, "change -> GET reflects it, %d samples (servers x changes): p50 %s  p99 %s  max %s\n",
			len(r.Latency), ms(at(r.Latency, 0.50)), ms(at(r.Latency, 0.99)), ms(r.Latency[len(r.Latency)-1]))
	}
	if a := r.AfterWrite; len(a) > 0 {
		fmt.Fprintf(w, "the same from the end of the update request: p50 %s  p99 %s  max %s\n",
			ms(at(a, 0.50)), ms(at(a, 0.99)), ms(a[len(a)-1]))
	}
	if len(r.Update) > 0 {
		u := slices.Sorted(slices.Values(r.Update))
		fmt.Fprintf(w, "update request itself: p50 %s  max %s\n", ms(at(u, 0.50)), ms(u[len(u)-1]))
	}
	fmt.Fprintf(w, "CPU during the changes: kube-apiserver %.2fs, all servers %.2fs, over %s wall\n",
		r.APIServerCPU.Seconds(), r.ServersCPU.Seconds(), r.Measured.Round(time.Millisecond))
	fmt.Fprintf(w, "all servers idle, before the changes: %.2f cores\n", r.IdleServersCPU)
	if len(r.RSS) > 0 {
		s := slices.Sorted(slices.Values(r.RSS))
		fmt.Fprintf(w, "server VmRSS: min %.1f MiB  median %.1f MiB  max %.1f MiB\n",
			mib(s[0]), mib(at(s, 0.50)), mib(s[len(s)-1]))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) float64 { return float64(n) / (1 << 20) }
