package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/metrics"
)

const (
	defaultHistoryLimit = 1000
	maxHistoryLimit     = 10000
	defaultWindow       = 5 * time.Minute
)

// MetricsService records and reads BSS counter samples.
type MetricsService interface {
	metricsRecorder
	latestReader
	historyReader
	summarizer
}

type metricsRecorder interface {
	Record(ctx context.Context, b metrics.Batch) (time.Time, error)
}

type latestReader interface {
	Latest(ctx context.Context) (metrics.Record, bool, error)
}

type historyReader interface {
	Range(ctx context.Context, q metrics.Query) ([]metrics.Record, bool, error)
}

type summarizer interface {
	Summary(ctx context.Context, window time.Duration) (metrics.Summary, error)
}

type postMetricsResponse struct {
	envelope
	Stored        int      `json:"stored"`
	IgnoredFields []string `json:"ignored_fields,omitempty"`
}

func postMetrics(rec metricsRecorder, limit int64, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readJSONBody(w, r, limit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		batch, err := metrics.Decode(body)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		if _, err := rec.Record(r.Context(), batch); err != nil {
			rs.error(w, r, err)
			return
		}
		rs.json(w, r, http.StatusOK, postMetricsResponse{
			envelope:      ok(now(), "Metrics received successfully"),
			Stored:        len(batch.Samples),
			IgnoredFields: batch.Ignored,
		})
	})
}

type latestMetricsResponse struct {
	envelope
	Node    string         `json:"node"`
	Metrics metrics.Record `json:"metrics"`
}

func getLatestMetrics(latest latestReader, node string, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, found, err := latest.Latest(r.Context())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		if !found {
			rs.error(w, r, apperr.Errorf(apperr.NotFound,
				"no metrics received yet; the scheduler sends them with POST /api/v1/metrics"))
			return
		}
		rs.json(w, r, http.StatusOK, latestMetricsResponse{
			envelope: ok(now(), "Latest metrics retrieved successfully"),
			Node:     node,
			Metrics:  rec,
		})
	})
}

type historyResponse struct {
	envelope
	Node      string           `json:"node"`
	Count     int              `json:"count"`
	HasMore   bool             `json:"has_more"`
	NextSince string           `json:"next_since,omitempty"`
	Samples   []metrics.Record `json:"samples"`
}

func getMetricsHistory(history historyReader, node string, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := historyQuery(r.URL.Query(), now())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		recs, more, err := history.Range(r.Context(), q)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		resp := historyResponse{
			envelope: ok(now(), "Metrics history retrieved successfully"),
			Node:     node,
			Count:    len(recs),
			HasMore:  more,
			Samples:  recs,
		}
		if resp.Samples == nil {
			resp.Samples = []metrics.Record{}
		}
		if more {
			// Receive times are unique, so the next page starts just after the last.
			resp.NextSince = recs[len(recs)-1].ReceivedAt.Add(time.Nanosecond).Format(time.RFC3339Nano)
		}
		rs.json(w, r, http.StatusOK, resp)
	})
}

// historyQuery parses a history query; durations count back from now.
func historyQuery(v url.Values, now time.Time) (metrics.Query, error) {
	p, err := parseRange(v, now, defaultHistoryLimit, maxHistoryLimit)
	return metrics.Query{Since: p.since, Until: p.until, Limit: p.limit}, err
}

// timeRange is a range query's parameters: since (inclusive), until
// (exclusive), each zero when absent (unbounded), and a limit.
type timeRange struct {
	since, until time.Time
	limit        int
}

// parseRange reads the since, until and limit parameters of a range
// query; durations count back from now. An absent limit is def; a limit
// must be from 1 to maxLimit.
func parseRange(v url.Values, now time.Time, def, maxLimit int) (timeRange, error) {
	p := timeRange{limit: def}
	var err error
	if p.since, err = parseTimeParam(v, "since", now); err != nil {
		return p, err
	}
	if p.until, err = parseTimeParam(v, "until", now); err != nil {
		return p, err
	}
	if !p.since.IsZero() && !p.until.IsZero() && !p.until.After(p.since) {
		return p, apperr.Errorf(apperr.Invalid, "until: must be after since")
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxLimit {
			return p, apperr.Errorf(apperr.Invalid, "limit: must be an integer from 1 to %d, got %q", maxLimit, raw)
		}
		p.limit = n
	}
	return p, nil
}

// The times a range query may name: what Unix nanoseconds, the stores'
// time keys, can hold. A time outside would wrap around when converted
// and select the wrong records.
var (
	earliestTime = time.Unix(0, math.MinInt64).UTC()
	latestTime   = time.Unix(0, math.MaxInt64).UTC()
)

// parseTimeParam reads an RFC3339 time, or a duration meaning "that long
// before now". An absent parameter is the zero time (unbounded).
func parseTimeParam(v url.Values, name string, now time.Time) (time.Time, error) {
	raw := v.Get(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		d, derr := time.ParseDuration(raw)
		if derr != nil || d < 0 {
			return time.Time{}, apperr.Errorf(apperr.Invalid,
				"%s: must be an RFC3339 time such as 2025-06-19T10:30:00Z or a duration before now such as 15m, got %q", name, raw)
		}
		t = now.Add(-d)
	}
	if t.Before(earliestTime) || t.After(latestTime) {
		return time.Time{}, apperr.Errorf(apperr.Invalid, "%s: must be from %s to %s, got %q",
			name, earliestTime.Format(time.RFC3339Nano), latestTime.Format(time.RFC3339Nano), raw)
	}
	return t, nil
}

type summaryResponse struct {
	envelope
	Node   string `json:"node"`
	Window string `json:"window"`
	metrics.Summary
}

// getMetricsSummary summarizes a window of at most maxWindow (0: any).
func getMetricsSummary(sum summarizer, maxWindow time.Duration, node string, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		window, err := summaryWindow(r.URL.Query().Get("window"), maxWindow)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		s, err := sum.Summary(r.Context(), window)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		rs.json(w, r, http.StatusOK, summaryResponse{
			envelope: ok(now(), "Metrics summary computed successfully"),
			Node:     node,
			Window:   window.String(),
			Summary:  s,
		})
	})
}

// summaryWindow parses the window parameter; absent, it is the default.
func summaryWindow(raw string, maxWindow time.Duration) (time.Duration, error) {
	if raw == "" {
		return defaultWindow, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 || (maxWindow > 0 && d > maxWindow) {
		bound := ""
		if maxWindow > 0 {
			bound = fmt.Sprintf(", at most %s (the history's retention)", maxWindow)
		}
		return 0, apperr.Errorf(apperr.Invalid, "window: must be a positive duration such as 5m%s, got %q", bound, raw)
	}
	return d, nil
}
