package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
)

// envelope is the seed's response frame. Success responses embed it next
// to their payload; errors carry only Success and Error.
type envelope struct {
	Success   bool   `json:"success"`
	Message   string `json:"message,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ok returns a success envelope stamped with now in RFC3339 UTC.
func ok(now time.Time, message string) envelope {
	return envelope{Success: true, Message: message, Timestamp: now.UTC().Format(time.RFC3339)}
}

// statusOf maps an error code to its HTTP status. It is the only place that
// does so.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooMany:
		return http.StatusTooManyRequests
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Timeout:
		return http.StatusRequestTimeout
	case apperr.Unsupported:
		return http.StatusUnsupportedMediaType
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// responder writes JSON responses and errors. It is shared by every handler.
type responder struct {
	log *slog.Logger
}

// json marshals v before writing anything, so an encoding failure becomes a
// clean 500 instead of a truncated 200.
func (rs responder) json(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		rs.error(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	writeJSONBytes(w, status, body)
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte{'\n'})
}

// error writes err as the seed's error envelope. Internal errors are logged
// with their cause and shown to the client generically.
func (rs responder) error(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	status := statusOf(code)
	if status >= 500 {
		rs.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="bss-api"`)
	}
	if d := apperr.RetryAfterOf(err); d > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	body, _ := json.Marshal(envelope{Success: false, Error: apperr.MessageOf(err)})
	writeJSONBytes(w, status, body)
}

// requireJSON returns an Unsupported error unless r's Content-Type is
// application/json (parameters such as charset allowed).
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return nil
	}
	if ct == "" {
		return apperr.Errorf(apperr.Unsupported, "the Content-Type header is missing; send the body as application/json")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return apperr.Errorf(apperr.Unsupported, "Content-Type %q is not supported; send the body as application/json", ct)
	}
	return nil
}
