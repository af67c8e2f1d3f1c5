package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// maxAnswerBytes bounds an answer's decoded body. The largest answers
// (pods at 10,000 processes) are a few megabytes.
const maxAnswerBytes = 256 << 20

// call is one API request, as the methods describe it to do.
type call struct {
	method, path string
	query        url.Values
	header       http.Header // extra request headers (If-None-Match)
	body         any         // marshalled as JSON; nil: no body
	// idempotent requests are retried after any connection error; the
	// others only when the error came before the request was written.
	idempotent bool
	// noAuth requests carry no token (the token endpoint itself).
	noAuth bool
	// okStatus lists the statuses whose body is decoded into out, besides
	// 200. A 304 is always ErrNotModified.
	okStatus []int
	// retryStatus: 429 and 503 are retried (the server says it did nothing
	// and when to come back) unless this is false; false for readiness,
	// whose 503 is the answer, and for watches, which retry by themselves.
	noStatusRetry bool
	// noRetry: a single attempt (the watch loop does its own retrying).
	noRetry bool
	// hold is how long the server may hold the request (a blocking
	// query's wait plus its jitter), added to the attempt's timeout.
	hold time.Duration
}

// answer is what do hands back besides the decoded body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do performs cl, retrying as the policy allows, and decodes a successful
// answer's body into out (when out is not nil). An error status is an
// *APIError; a 304 is ErrNotModified.
func (c *Client) do(ctx context.Context, cl call, out any) (*answer, error) {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("bss-api: %s %s: encode request: %w", cl.method, cl.path, err)
		}
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		ans, sent, err := c.once(ctx, cl, body)
		if err == nil {
			return ans, decodeAnswer(cl, ans, out)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bss-api: %s %s: %w", cl.method, cl.path, context.Cause(ctx))
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized && !refreshed {
			// A token the server no longer takes (rotated, or signed with
			// a key from before a restart): get a fresh one, once.
			if inv, ok := c.tokens.(invalidator); ok && !cl.noAuth {
				inv.Invalidate()
				refreshed = true
				attempt--
				continue
			}
		}
		if cl.noRetry || attempt >= c.retry.MaxAttempts {
			return nil, err
		}
		delay, retry := c.retryDelay(cl, err, sent, attempt)
		if !retry {
			return nil, err
		}
		if serr := sleep(ctx, delay); serr != nil {
			return nil, err // the last answer says more than "context canceled"
		}
	}
}

// retryDelay says whether a failed attempt may be retried, and after how
// long.
func (c *Client) retryDelay(cl call, err error, sent bool, attempt int) (time.Duration, bool) {
	delay := c.retry.backoff(attempt)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		// A connection error: nothing was done unless the request was
		// written; an idempotent request may be sent again regardless.
		return delay, cl.idempotent || !sent
	}
	switch apiErr.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if cl.noStatusRetry || apiErr.RetryAfter > c.retry.MaxDelay {
			return 0, false // come back later than we are willing to wait: the caller decides
		}
		return max(delay, apiErr.RetryAfter), true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return delay, cl.idempotent // a proxy in between: the server may have acted
	}
	return 0, false
}

// once performs one attempt. sent reports whether the request was written
// to a connection (so the server may have acted on it).
func (c *Client) once(ctx context.Context, cl call, body []byte) (ans *answer, sent bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout+cl.hold)
	defer cancel()
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	target := c.base.String() + cl.path // cl.path is escaped already
	if q := cl.query.Encode(); q != "" {
		target += "?" + q
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, rd)
	if err != nil {
		return nil, false, fmt.Errorf("bss-api: %s %s: %w", cl.method, cl.path, err)
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	// Asked for explicitly, so answers are gzipped whatever the transport
	// (one with DisableCompression included) and decoded here.
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tokens != nil && !cl.noAuth {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("bss-api: %s %s: credentials: %w", cl.method, cl.path, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, wrote.Load(), fmt.Errorf("bss-api: %s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return nil, true, fmt.Errorf("bss-api: %s %s: read answer (%d): %w", cl.method, cl.path, resp.StatusCode, err)
	}
	ans = &answer{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode == http.StatusNotModified {
		return ans, true, nil
	}
	if resp.StatusCode >= 300 && !contains(cl.okStatus, resp.StatusCode) {
		return nil, true, newAPIError(req, resp, data, c.now())
	}
	return ans, true, nil
}

// readBody reads resp's body, gunzipping it if it is gzipped.
func readBody(resp *http.Response) ([]byte, error) {
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAnswerBytes {
		return nil, fmt.Errorf("answer over %d bytes", maxAnswerBytes)
	}
	return data, nil
}

// decodeAnswer decodes ans into out, or returns ErrNotModified for a 304.
func decodeAnswer(cl call, ans *answer, out any) error {
	if ans.status == http.StatusNotModified {
		return ErrNotModified
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ans.body, out); err != nil {
		return fmt.Errorf("bss-api: %s %s: decode answer (%d): %w", cl.method, cl.path, ans.status, err)
	}
	return nil
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// sleep waits d or until ctx is done, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
