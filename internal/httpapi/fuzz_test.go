package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bss-api/bss-api/internal/metrics"
)

// FuzzPostMetrics drives the whole handler stack with arbitrary bodies and
// Content-Types: it must never panic or answer 5xx, must always answer the
// JSON envelope, and a rejected request must store nothing.
func FuzzPostMetrics(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"usersched_pid":1234,"nr_queued":10}`},
		{"", `[{"nr_queued":1},{"nr_running":2}]`},
		{"application/json; charset=utf-8", `{"nr_queued":"ten"}`},
		{"text/plain", `{"nr_queued":1}`},
		{"application/json", `{}`},
		{"application/json", `null`},
		{"application/json", `{"nr_queued":1}{"nr_queued":2}`},
		{"application/json", `{"nr_queued":18446744073709551616}`},
		{"application/jsonx", ``},
		{"application/json;;", `[]`},
		{"application/json", `{"nr_queued":1,"nr_queued":2}`},
		{"application/json", `{"NR_QUEUED":1}`},
		{"application/json", `[{"nr_queued":1},{"nr_queued":1,"x":{"y":1,"y":2}}]`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	clock := &fakeClock{now: start}
	cfg := newTestConfig(f, clock)
	cfg.MaxBodyBytes = 4096
	h := New(cfg)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		before := storedCount(t, cfg.Metrics)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/metrics", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for Content-Type %q body %q: %s", rec.Code, contentType, body, rec.Body)
		}
		var env struct {
			Success *bool   `json:"success"`
			Error   *string `json:"error"`
			Stored  int     `json:"stored"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Success == nil {
			t.Fatalf("status %d: body %q is not the JSON envelope (%v)", rec.Code, rec.Body, err)
		}
		after := storedCount(t, cfg.Metrics)
		switch {
		case rec.Code == http.StatusOK:
			if !*env.Success || after != before+env.Stored || env.Stored < 1 {
				t.Fatalf("200 with success=%v stored=%d, but the history went from %d to %d", *env.Success, env.Stored, before, after)
			}
		case *env.Success || env.Error == nil || *env.Error == "":
			t.Fatalf("status %d without an error message: %s", rec.Code, rec.Body)
		case after != before:
			t.Fatalf("rejected request (%d) changed the history from %d to %d samples", rec.Code, before, after)
		}
	})
}

// storedCount counts the samples the recorder has stored since it
// started; unlike the history's length, it does not stop growing when the
// history is full and drops its oldest samples.
func storedCount(t *testing.T, m MetricsService) int {
	t.Helper()
	return int(m.(*metrics.Recorder).Stats().Received)
}

func TestBadInputChangesNothing(t *testing.T) {
	clock := &fakeClock{now: start}
	cfg := newTestConfig(t, clock)
	cfg.MaxBodyBytes = 256
	h := New(cfg)
	post := func(ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/metrics", bytes.NewBufferString(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("application/json", `{"nr_queued": 42}`); rec.Code != http.StatusOK {
		t.Fatalf("good POST = %d %s", rec.Code, rec.Body)
	}
	bad := []struct {
		name, ct, body string
		want           int
	}{
		{"malformed", "application/json", `{"nr_queued":`, 400},
		{"empty", "application/json", ``, 400},
		{"null", "application/json", `null`, 400},
		{"empty object", "application/json", `{}`, 400},
		{"trailing garbage", "application/json", `{"nr_queued":1} x`, 400},
		{"two objects", "application/json", `{"nr_queued":1}{"nr_queued":2}`, 400},
		{"wrong type", "application/json", `{"nr_queued":"1"}`, 400},
		{"negative", "application/json", `{"nr_queued":-1}`, 400},
		{"float", "application/json", `{"nr_queued":1.5}`, 400},
		{"overflow", "application/json", `{"nr_queued":18446744073709551616}`, 400},
		{"batch with one bad item", "application/json", `[{"nr_queued":1},{"nr_queued":-1}]`, 400},
		{"empty batch", "application/json", `[]`, 400},
		{"too large", "application/json", `{"nr_queued":1,"pad":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`, 413},
		{"wrong content type", "text/plain", `{"nr_queued":1}`, 415},
		{"form content type", "application/x-www-form-urlencoded", `{"nr_queued":1}`, 415},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(tt.ct, tt.body)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			recs, _, _ := cfg.Metrics.Range(context.Background(), metrics.Query{})
			if len(recs) != 1 || recs[0].NrQueued != 42 {
				t.Errorf("history after a rejected request = %+v, want only the first sample", recs)
			}
			latest, _, _ := cfg.Metrics.Latest(context.Background())
			if latest.NrQueued != 42 {
				t.Errorf("latest after a rejected request has nr_queued %d, want 42", latest.NrQueued)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name       string
		origins    []string
		origin     string
		wantAllow  string
		wantStatus int
	}{
		{"any origin by default", []string{"*"}, "https://dash.example", "*", http.StatusNoContent},
		{"listed origin", []string{"https://dash.example"}, "https://dash.example", "https://dash.example", http.StatusNoContent},
		{"unlisted origin gets no CORS headers", []string{"https://dash.example"}, "https://evil.example", "", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newTestConfig(t, &fakeClock{now: start})
			cfg.CORSOrigins = tt.origins
			h := New(cfg)
			req := httptest.NewRequest(http.MethodOptions, "/api/v1/metrics", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("preflight status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantAllow)
			}
			if tt.wantAllow != "" && rec.Header().Get("Access-Control-Allow-Methods") != "POST" {
				t.Errorf("Access-Control-Allow-Methods = %q, want POST", rec.Header().Get("Access-Control-Allow-Methods"))
			}
		})
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	obs := observer{rs: responder{log: cfg.Logger}, metrics: newHTTPMetrics(cfg.Registry)}
	h := obs.wrap("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	var env envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Success || env.Error != "internal server error" {
		t.Errorf("body = %s, want the error envelope with a generic message", rec.Body)
	}
}

// A panic after the response has started aborts the connection, so the
// client does not take a truncated body for a complete one; the request
// is counted as a 500 and leaves the in-flight gauge.
func TestPanicAfterHeadersAborts(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	obs := observer{rs: responder{log: cfg.Logger}, metrics: newHTTPMetrics(cfg.Registry)}
	h := obs.wrap("GET /boom", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"success":tr`))
		panic("boom")
	}))
	func() {
		defer func() {
			p := recover()
			if err, ok := p.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
	}()
	if got := testutil.ToFloat64(obs.metrics.inFlight); got != 0 {
		t.Errorf("in flight = %v after the request, want 0", got)
	}
	if got := testutil.ToFloat64(obs.metrics.requests.WithLabelValues("GET /boom", "GET", "500")); got != 1 {
		t.Errorf("requests{code=500} = %v, want 1", got)
	}
}
