package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Info describes the server and lists every endpoint it serves.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	return getJSON[Info](ctx, c, "/", nil)
}

// Health returns the server's health, whether healthy (200) or unhealthy
// (503): an unhealthy answer is a report, not an error. 503 is not retried.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/health", idempotent: true,
		okStatus: []int{http.StatusServiceUnavailable}, noStatusRetry: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Live returns nil when the server's liveness probe (/healthz) answers 200.
func (c *Client) Live(ctx context.Context) error {
	return c.get(ctx, "/healthz", nil, nil)
}

// Ready returns the readiness report and nil when the server is ready, and
// the report and an *APIError matching ErrUnavailable when it is not
// (while it starts, stops, or a critical component is down). 503 is not
// retried: poll Ready to wait for a server.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	ans, err := c.do(ctx, call{method: http.MethodGet, path: "/readyz", idempotent: true,
		okStatus: []int{http.StatusServiceUnavailable}, noStatusRetry: true}, nil)
	if err != nil {
		return nil, err
	}
	var out Readiness
	if len(ans.body) > 0 { // a bare 200 (a proxy's or a stub's probe) is ready too
		if err := json.Unmarshal(ans.body, &out); err != nil {
			return nil, fmt.Errorf("bss-api: GET /readyz: decode answer (%d): %w", ans.status, err)
		}
	}
	if ans.status != http.StatusOK {
		return &out, &APIError{Method: http.MethodGet, Path: "/readyz", StatusCode: ans.status, Message: out.Status,
			RetryAfter: retryAfter(ans.header.Get("Retry-After"), c.now())}
	}
	return &out, nil
}

// PrometheusMetrics returns GET /metrics: the Prometheus text format.
func (c *Client) PrometheusMetrics(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/metrics", "text/plain")
}

// OpenAPI returns the OpenAPI 3 document (YAML) of the server's API.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/api/v1/openapi.yaml", "application/yaml")
}

// raw returns the body of a GET of a document that is not JSON.
func (c *Client) raw(ctx context.Context, path, accept string) ([]byte, error) {
	ans, err := c.do(ctx, call{method: http.MethodGet, path: path, idempotent: true,
		header: http.Header{"Accept": {accept + ", */*;q=0.1"}}}, nil)
	if err != nil {
		return nil, err
	}
	return ans.body, nil
}

// IssueToken asks for a scheduler token with the scheduler's public key
// (PEM). Most callers use WithSchedulerKey instead, which calls it and
// renews the token.
func (c *Client) IssueToken(ctx context.Context, publicKeyPEM string) (*Token, error) {
	var out Token
	body := struct {
		PublicKey string `json:"public_key"`
	}{publicKeyPEM}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v1/auth/token", body: body,
		idempotent: true, noAuth: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
