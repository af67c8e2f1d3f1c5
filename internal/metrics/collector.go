package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the latest sample to Prometheus. Scheduler series are
// only reported while the last push is younger than the staleness period,
// so a dead scheduler is not shown with its last healthy values.
type Collector struct {
	rec       *Recorder
	staleness time.Duration

	fieldDescs [len(fields)]*prometheus.Desc
	lastPush   *prometheus.Desc
	received   *prometheus.Desc
	ignored    *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector for rec's samples, labelled with node.
func NewCollector(rec *Recorder, node string, staleness time.Duration) *Collector {
	labels := prometheus.Labels{"node": node}
	c := &Collector{rec: rec, staleness: staleness}
	for i, f := range fields {
		c.fieldDescs[i] = prometheus.NewDesc(PromName(f), f.Help+".", nil, labels)
	}
	c.lastPush = prometheus.NewDesc("bss_last_push_timestamp_seconds",
		"Unix time of the last metrics push from the scheduler.", nil, labels)
	c.received = prometheus.NewDesc("bss_metrics_samples_received_total",
		"Metric samples accepted since the server started.", nil, labels)
	c.ignored = prometheus.NewDesc("bss_metrics_ignored_fields_total",
		"Unknown fields ignored in accepted metric samples since the server started.", nil, labels)
	return c
}

// PromName is the Prometheus series name of a field.
func PromName(f Field) string {
	if f.Kind == Counter {
		return "bss_" + f.Name + "_total"
	}
	return "bss_" + f.Name
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.fieldDescs {
		ch <- d
	}
	ch <- c.lastPush
	ch <- c.received
	ch <- c.ignored
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.rec.Stats()
	ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(st.Received))
	ch <- prometheus.MustNewConstMetric(c.ignored, prometheus.CounterValue, float64(st.Ignored))

	rec, ok, err := c.rec.Latest(context.Background())
	if err != nil || !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.lastPush, prometheus.GaugeValue,
		float64(rec.ReceivedAt.UnixNano())/1e9)
	if c.rec.now().Sub(rec.ReceivedAt) > c.staleness {
		return
	}
	for i, f := range fields {
		vt := prometheus.GaugeValue
		if f.Kind == Counter {
			vt = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.fieldDescs[i], vt, float64(f.Get(&rec.Sample)))
	}
}
