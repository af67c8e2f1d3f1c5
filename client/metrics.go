package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PostMetrics sends one sample. It is retried only when the connection
// failed before the request was written (see RetryPolicy).
func (c *Client) PostMetrics(ctx context.Context, m Metrics) (*PostMetricsResult, error) {
	return c.postMetrics(ctx, m)
}

// PostMetricsBatch sends 1 to 1000 samples as one batch, stored
// all-or-nothing.
func (c *Client) PostMetricsBatch(ctx context.Context, batch []Metrics) (*PostMetricsResult, error) {
	if len(batch) == 0 {
		return nil, errors.New("bss-api: POST /api/v1/metrics: empty batch")
	}
	return c.postMetrics(ctx, batch)
}

func (c *Client) postMetrics(ctx context.Context, body any) (*PostMetricsResult, error) {
	var out PostMetricsResult
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v1/metrics", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LatestMetrics returns the latest sample; ErrNotFound before the first.
func (c *Client) LatestMetrics(ctx context.Context) (*LatestMetrics, error) {
	return getJSON[LatestMetrics](ctx, c, "/api/v1/metrics", nil)
}

// MetricsHistory returns one page of samples, oldest first.
func (c *Client) MetricsHistory(ctx context.Context, q HistoryQuery) (*MetricsHistory, error) {
	return getJSON[MetricsHistory](ctx, c, "/api/v1/metrics/history", q.values())
}

// MetricsSummary summarizes the samples of the last window (0: the
// server's default, 5 minutes).
func (c *Client) MetricsSummary(ctx context.Context, window time.Duration) (*MetricsSummary, error) {
	q := url.Values{}
	if window > 0 {
		q.Set("window", window.String())
	}
	return getJSON[MetricsSummary](ctx, c, "/api/v1/metrics/summary", q)
}

// Audit returns one page of the audit trail, oldest first.
func (c *Client) Audit(ctx context.Context, q HistoryQuery) (*AuditPage, error) {
	return getJSON[AuditPage](ctx, c, "/api/v1/audit", q.values())
}

func (q HistoryQuery) values() url.Values {
	v := url.Values{}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.Until != "" {
		v.Set("until", q.Until)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// getJSON performs an idempotent GET and decodes its answer.
func getJSON[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	var out T
	if err := c.get(ctx, path, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// get performs an idempotent GET and decodes its answer into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, idempotent: true}, out)
	return err
}
