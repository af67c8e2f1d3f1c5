package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors that an *APIError matches with errors.Is, by its status.
var (
	ErrBadRequest   = errors.New("bss-api: bad request")              // 400
	ErrUnauthorized = errors.New("bss-api: unauthorized")             // 401
	ErrForbidden    = errors.New("bss-api: forbidden")                // 403
	ErrNotFound     = errors.New("bss-api: not found")                // 404
	ErrTooLarge     = errors.New("bss-api: request too large")        // 413
	ErrUnsupported  = errors.New("bss-api: unsupported media type")   // 415
	ErrTooMany      = errors.New("bss-api: too many requests")        // 429
	ErrUnavailable  = errors.New("bss-api: unavailable, retry later") // 503
)

// ErrNotModified is returned by Strategies and PodPIDs when the server
// answered 304: the answer is still the one whose ETag (or version) was
// given, so keep using it. It is an error so that a caller that ignores it
// can never apply an empty answer.
var ErrNotModified = errors.New("bss-api: not modified")

// APIError is an answer with an error status. Message is the server's
// "error" field, which names the offending field or parameter and says what
// is allowed. Use errors.As to get it, and errors.Is with the Err*
// variables above to test its status.
type APIError struct {
	Method     string // of the request
	Path       string // of the request, without the query
	StatusCode int
	Message    string
	// RetryAfter is the server's Retry-After (on 429 and 503); 0 if absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	s := fmt.Sprintf("bss-api: %s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Is reports whether target is the Err* variable of e's status.
func (e *APIError) Is(target error) bool {
	return target != nil && statusError(e.StatusCode) == target
}

func statusError(status int) error {
	switch status {
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusUnsupportedMediaType:
		return ErrUnsupported
	case http.StatusTooManyRequests:
		return ErrTooMany
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	return nil
}

// newAPIError builds the error for resp, whose body is body. A body in the
// error envelope gives Message; any other body (a proxy's page, say) is
// quoted, shortened.
func newAPIError(req *http.Request, resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	var env struct {
		Error  string `json:"error"`
		Status string `json:"status"` // /health and /readyz
	}
	switch {
	case json.Unmarshal(body, &env) == nil && env.Error != "":
		e.Message = env.Error
	case env.Status != "":
		e.Message = env.Status
	default:
		s := strings.TrimSpace(string(body))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		e.Message = s
	}
	return e
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
