package httpapi

import (
	"fmt"
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

type postMetricsResponse struct {
	envelope
	Stored        int      `json:"stored"`
	IgnoredFields []string `json:"ignored_fields,omitempty"`
}

func (s *server) handlePostMetrics(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r, s.MaxBodyBytes)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	batch, err := metrics.Decode(body)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	if _, err := s.Metrics.Record(r.Context(), batch); err != nil {
		s.respond.error(w, r, err)
		return
	}
	s.respond.json(w, r, http.StatusOK, postMetricsResponse{
		envelope:      ok(s.Now(), "Metrics received successfully"),
		Stored:        len(batch.Samples),
		IgnoredFields: batch.Ignored,
	})
}

type latestMetricsResponse struct {
	envelope
	Node    string         `json:"node"`
	Metrics metrics.Record `json:"metrics"`
}

func (s *server) handleLatestMetrics(w http.ResponseWriter, r *http.Request) {
	rec, found, err := s.Metrics.Latest(r.Context())
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	if !found {
		s.respond.error(w, r, apperr.Errorf(apperr.NotFound,
			"no metrics received yet; the scheduler sends them with POST /api/v1/metrics"))
		return
	}
	s.respond.json(w, r, http.StatusOK, latestMetricsResponse{
		envelope: ok(s.Now(), "Latest metrics retrieved successfully"),
		Node:     s.Node,
		Metrics:  rec,
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

func (s *server) handleMetricsHistory(w http.ResponseWriter, r *http.Request) {
	q, err := s.historyQuery(r.URL.Query())
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	recs, more, err := s.Metrics.Range(r.Context(), q)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	resp := historyResponse{
		envelope: ok(s.Now(), "Metrics history retrieved successfully"),
		Node:     s.Node,
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
	s.respond.json(w, r, http.StatusOK, resp)
}

func (s *server) historyQuery(v url.Values) (metrics.Query, error) {
	now := s.Now()
	q := metrics.Query{Limit: defaultHistoryLimit}
	var err error
	if q.Since, err = parseTimeParam(v, "since", now); err != nil {
		return q, err
	}
	if q.Until, err = parseTimeParam(v, "until", now); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, apperr.Errorf(apperr.Invalid, "until: must be after since")
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return q, apperr.Errorf(apperr.Invalid, "limit: must be an integer from 1 to %d, got %q", maxHistoryLimit, raw)
		}
		q.Limit = n
	}
	return q, nil
}

// parseTimeParam reads an RFC3339 time, or a duration meaning "that long
// before now". An absent parameter is the zero time (unbounded).
func parseTimeParam(v url.Values, name string, now time.Time) (time.Time, error) {
	raw := v.Get(name)
	if raw == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(raw); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, apperr.Errorf(apperr.Invalid,
		"%s: must be an RFC3339 time such as 2025-06-19T10:30:00Z or a duration before now such as 15m, got %q", name, raw)
}

type summaryResponse struct {
	envelope
	Node   string `json:"node"`
	Window string `json:"window"`
	metrics.Summary
}

func (s *server) handleMetricsSummary(w http.ResponseWriter, r *http.Request) {
	window := defaultWindow
	if raw := r.URL.Query().Get("window"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 || (s.MaxHistoryWindow > 0 && d > s.MaxHistoryWindow) {
			bound := ""
			if s.MaxHistoryWindow > 0 {
				bound = fmt.Sprintf(", at most %s (the history's retention)", s.MaxHistoryWindow)
			}
			s.respond.error(w, r, apperr.Errorf(apperr.Invalid,
				"window: must be a positive duration such as 5m%s, got %q", bound, raw))
			return
		}
		window = d
	}
	sum, err := s.Metrics.Summary(r.Context(), window)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	s.respond.json(w, r, http.StatusOK, summaryResponse{
		envelope: ok(s.Now(), "Metrics summary computed successfully"),
		Node:     s.Node,
		Window:   window.String(),
		Summary:  sum,
	})
}
