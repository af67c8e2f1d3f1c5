package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// goalRatio is the informational throughput goal of bss-api against the
// reference server.
const goalRatio = 0.80

// serverResult is the measurement of one server.
type serverResult struct {
	name    string
	load    loadResult
	peakRSS int64 // bytes; 0 when unknown
}

// report is everything bss-load prints.
type report struct {
	opts    options
	servers []serverResult
}

func (r *report) errorCount() int {
	n := 0
	for _, s := range r.servers {
		n += s.load.errors()
	}
	return n
}

// ratio is bss-api's throughput over the reference's; ok is false unless
// both were measured.
func (r *report) ratio() (float64, bool) {
	if len(r.servers) != 2 || r.servers[1].load.rate() == 0 {
		return 0, false
	}
	return r.servers[0].load.rate() / r.servers[1].load.rate(), true
}

func (r *report) write(w io.Writer, withJSON bool) error {
	if len(r.servers) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "target %s  c=%d d=%s", r.opts.target.name, r.opts.conns, r.opts.duration)
	if r.opts.batch > 1 {
		fmt.Fprintf(&b, " batch=%d", r.opts.batch)
	}
	b.WriteByte('\n')
	for _, s := range r.servers {
		l := s.load
		sum := summarize(l.latencies)
		fmt.Fprintf(&b, "%-10s %7.0f req/s  p50 %s  p90 %s  p99 %s  max %s  errors %d  peak RSS %s\n",
			s.name, l.rate(), fmtLatency(sum.P50), fmtLatency(sum.P90), fmtLatency(sum.P99), fmtLatency(sum.Max),
			l.errors(), fmtBytes(s.peakRSS))
		if r.opts.batch > 1 {
			fmt.Fprintf(&b, "%-10s %7.0f samples/s (%d per request)\n", "", l.rate()*float64(r.opts.batch), r.opts.batch)
		}
		if l.non2xx > 0 {
			fmt.Fprintf(&b, "!! %s: %d of %d responses were not 2xx (first status %d)\n",
				s.name, l.non2xx, len(l.latencies), l.firstBad)
		}
		if l.transport > 0 {
			fmt.Fprintf(&b, "!! %s: %d transport errors (first: %s)\n", s.name, l.transport, l.firstErr)
		}
	}
	if ratio, ok := r.ratio(); ok {
		fmt.Fprintf(&b, "ratio bss-api/%s: %.2f (goal >= %.2f)\n", r.servers[1].name, ratio, goalRatio)
	}
	if withJSON {
		js, err := json.Marshal(r.jsonView())
		if err != nil {
			return fmt.Errorf("encode JSON report: %w", err)
		}
		b.Write(js)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonReport struct {
	Target      string       `json:"target"`
	Connections int          `json:"connections"`
	Duration    string       `json:"duration"`
	Warmup      string       `json:"warmup"`
	Batch       int          `json:"batch"`
	Servers     []jsonServer `json:"servers"`
	Ratio       *float64     `json:"ratio,omitempty"`
	Goal        float64      `json:"goal"`
	Errors      int          `json:"errors"`
}

type jsonServer struct {
	Name              string  `json:"name"`
	Requests          int     `json:"requests"`
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	SamplesPerSecond  float64 `json:"samples_per_second,omitempty"`
	P50Ms             float64 `json:"p50_ms"`
	P90Ms             float64 `json:"p90_ms"`
	P99Ms             float64 `json:"p99_ms"`
	MaxMs             float64 `json:"max_ms"`
	Non2xx            int     `json:"non_2xx"`
	FirstBadStatus    int     `json:"first_bad_status,omitempty"`
	TransportErrors   int     `json:"transport_errors"`
	FirstError        string  `json:"first_error,omitempty"`
	Reconnects        int     `json:"reconnects"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes,omitempty"`
}

func (r *report) jsonView() jsonReport {
	j := jsonReport{
		Target:      r.opts.target.name,
		Connections: r.opts.conns,
		Duration:    r.opts.duration.String(),
		Warmup:      r.opts.warmup.String(),
		Batch:       r.opts.batch,
		Servers:     []jsonServer{},
		Goal:        goalRatio,
		Errors:      r.errorCount(),
	}
	if ratio, ok := r.ratio(); ok {
		j.Ratio = &ratio
	}
	for _, s := range r.servers {
		l := s.load
		sum := summarize(l.latencies)
		j.Servers = append(j.Servers, jsonServer{
			Name:              s.name,
			Requests:          len(l.latencies),
			ElapsedSeconds:    l.elapsed.Seconds(),
			RequestsPerSecond: l.rate(),
			SamplesPerSecond:  r.samplesPerSecond(l),
			P50Ms:             ms(sum.P50),
			P90Ms:             ms(sum.P90),
			P99Ms:             ms(sum.P99),
			MaxMs:             ms(sum.Max),
			Non2xx:            l.non2xx,
			FirstBadStatus:    l.firstBad,
			TransportErrors:   l.transport,
			FirstError:        l.firstErr,
			Reconnects:        l.reconnects,
			PeakRSSBytes:      s.peakRSS,
		})
	}
	return j
}

// samplesPerSecond is the ingest rate of a post-metrics run, or 0 for
// other targets.
func (r *report) samplesPerSecond(l loadResult) float64 {
	if r.opts.target.name != "post-metrics" {
		return 0
	}
	return l.rate() * float64(max(r.opts.batch, 1))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtLatency prints d in milliseconds with about three significant digits.
func fmtLatency(d time.Duration) string {
	m := ms(d)
	switch {
	case m < 10:
		return fmt.Sprintf("%.2fms", m)
	case m < 100:
		return fmt.Sprintf("%.1fms", m)
	default:
		return fmt.Sprintf("%.0fms", m)
	}
}

func fmtBytes(n int64) string {
	if n <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
