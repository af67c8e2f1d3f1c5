package client

import "time"

// Envelope is the frame of every successful answer.
type Envelope struct {
	Success   bool   `json:"success"`
	Message   string `json:"message,omitempty"`
	Timestamp string `json:"timestamp,omitempty"` // RFC 3339, UTC, whole seconds
}

// Metrics is one sample of the scheduler's counters, as POST
// /api/v1/metrics takes it. The counters and gauges are always sent (0 is
// a value); the two identity fields only when set. Current schedulers send
// UserschedLastRunAt, the seed's sent UserschedPID.
type Metrics struct {
	UserschedPID       uint64 `json:"usersched_pid,omitempty"`
	UserschedLastRunAt uint64 `json:"usersched_last_run_at,omitempty"`
	NrQueued           uint64 `json:"nr_queued"`
	NrScheduled        uint64 `json:"nr_scheduled"`
	NrRunning          uint64 `json:"nr_running"`
	NrOnlineCPUs       uint64 `json:"nr_online_cpus"`
	NrUserDispatches   uint64 `json:"nr_user_dispatches"`
	NrKernelDispatches uint64 `json:"nr_kernel_dispatches"`
	NrCancelDispatches uint64 `json:"nr_cancel_dispatches"`
	NrBounceDispatches uint64 `json:"nr_bounce_dispatches"`
	NrFailedDispatches uint64 `json:"nr_failed_dispatches"`
	NrSchedCongested   uint64 `json:"nr_sched_congested"`
}

// MetricsRecord is a stored sample: the fields as the server read them and
// when it received the sample (unique per sample).
type MetricsRecord struct {
	ReceivedAt time.Time `json:"received_at"`
	Metrics
}

// PostMetricsResult answers a metrics POST.
type PostMetricsResult struct {
	Envelope
	Stored int `json:"stored"`
	// IgnoredFields are the unknown fields the server accepted and
	// ignored (never sent by this package's Metrics).
	IgnoredFields []string `json:"ignored_fields,omitempty"`
}

// LatestMetrics answers GET /api/v1/metrics.
type LatestMetrics struct {
	Envelope
	Node    string        `json:"node"`
	Metrics MetricsRecord `json:"metrics"`
}

// HistoryQuery selects a page of history or of the audit trail. Zero
// fields are not sent, so the server's defaults apply.
type HistoryQuery struct {
	// Since and Until are RFC 3339 times or durations before now ("15m").
	Since, Until string
	Limit        int // 1–10000 for history, the server's own bound for audit
}

// MetricsHistory is one page of samples, oldest first. When HasMore is
// true, pass NextSince as the next query's Since.
type MetricsHistory struct {
	Envelope
	Node      string          `json:"node"`
	Count     int             `json:"count"`
	HasMore   bool            `json:"has_more"`
	NextSince string          `json:"next_since,omitempty"`
	Samples   []MetricsRecord `json:"samples"`
}

// MetricsSummary answers GET /api/v1/metrics/summary: counter rates and
// increases, and gauge statistics, over a window.
type MetricsSummary struct {
	Envelope
	Node      string                `json:"node"`
	Window    string                `json:"window"` // as Go prints a time.Duration
	From      time.Time             `json:"from"`
	To        time.Time             `json:"to"`
	Samples   int                   `json:"samples"`
	Rates     map[string]float64    `json:"rates"`     // per second, by counter name
	Increases map[string]uint64     `json:"increases"` // by counter name
	Resets    int                   `json:"resets"`    // scheduler restarts seen in the window
	Gauges    map[string]GaugeStats `json:"gauges"`    // by gauge name
}

// GaugeStats summarizes one gauge over a window.
type GaugeStats struct {
	Min uint64  `json:"min"`
	Avg float64 `json:"avg"`
	Max uint64  `json:"max"`
}
