package client

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastRetry retries without making tests wait.
var fastRetry = WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond})

func newTestClient(t *testing.T, h http.Handler, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, append([]Option{fastRetry}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func TestPriorityDecodesEitherForm(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Priority
		wantErr bool
	}{
		{`true`, 1, false}, {`false`, 0, false}, {`0`, 0, false}, {`1`, 1, false}, {`7`, 7, false},
		{`-1`, 0, true}, {`1.5`, 0, true}, {`"1"`, 0, true},
	} {
		var got struct {
			P Priority `json:"priority"`
		}
		err := json.Unmarshal([]byte(`{"priority":`+tc.in+`}`), &got)
		if (err != nil) != tc.wantErr || got.P != tc.want {
			t.Errorf("decode %s = %d, %v; want %d, error %v", tc.in, got.P, err, tc.want, tc.wantErr)
		}
	}
	for p, want := range map[Priority]string{0: "false", 1: "true", 5: "5"} {
		if got, err := json.Marshal(p); err != nil || string(got) != want {
			t.Errorf("encode %d = %s, %v; want %s", p, got, err, want)
		}
	}
	if _, err := json.Marshal(Priority(-1)); err == nil {
		t.Error("encode -1: no error")
	}
}

func TestErrorCarriesStatusMessageAndRetryAfter(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, `{"success":false,"error":"nr_queued: must be a non-negative integer, got \"ten\""}`)
	}))
	_, err := c.PostMetrics(t.Context(), Metrics{NrQueued: 1})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrBadRequest) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v; want an *APIError matching ErrBadRequest only", err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Message != `nr_queued: must be a non-negative integer, got "ten"` ||
		apiErr.Method != http.MethodPost || apiErr.Path != "/api/v1/metrics" {
		t.Errorf("APIError = %+v", apiErr)
	}
}

func TestRetriesHonourRetryAfterAndGiveUpBeyondMaxDelay(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case r.URL.Path == "/busy":
			w.Header().Set("Retry-After", "60")
			writeJSON(w, http.StatusTooManyRequests, `{"success":false,"error":"too many strategy writes; retry in 60 s"}`)
		case n <= 2:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusServiceUnavailable, `{"success":false,"error":"busy"}`)
		default:
			writeJSON(w, http.StatusOK, `{"success":true,"stored":1}`)
		}
	}))
	res, err := c.PostMetrics(t.Context(), Metrics{NrQueued: 1})
	if err != nil || res.Stored != 1 || calls.Load() != 3 {
		t.Fatalf("PostMetrics = %+v, %v after %d calls; want stored 1 after 3", res, err, calls.Load())
	}
	calls.Store(0)
	_, err = c.raw(t.Context(), "/busy", "text/plain")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrTooMany) || apiErr.RetryAfter != time.Minute || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls; want one 429 with RetryAfter 1m, not retried", err, calls.Load())
	}
}

// hangUp reads the request and closes the connection without answering:
// the request was sent, and the server may have acted on it.
func hangUp(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestMetricsPostIsNeverSentTwice(t *testing.T) {
	var posts, gets atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			gets.Add(1)
		}
		hangUp(w, r)
	}))
	if _, err := c.PostMetrics(t.Context(), Metrics{NrQueued: 1}); err == nil {
		t.Fatal("PostMetrics on a connection closed after the request: no error")
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("the metrics POST was sent %d times after the connection broke once it was written; want 1", n)
	}
	if _, err := c.LatestMetrics(t.Context()); err == nil {
		t.Fatal("LatestMetrics: no error")
	}
	if n := gets.Load(); n != 4 {
		t.Errorf("the GET was sent %d times; want 4 (every attempt of the policy)", n)
	}
}

func TestMetricsPostRetriedWhenNothingWasSent(t *testing.T) {
	// A listener that is closed: every dial fails before anything is written.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}}
	c, err := New("http://"+addr, fastRetry, WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PostMetrics(t.Context(), Metrics{NrQueued: 1}); err == nil {
		t.Fatal("no error from a closed port")
	}
	if n := dials.Load(); n != 4 {
		t.Errorf("%d dials; want 4: a request that was never written is safe to send again", n)
	}
}

func TestAnswersAreGzippedWhateverTheTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			writeJSON(w, http.StatusBadRequest, `{"success":false,"error":"want gzip"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, `{"success":true,"version":3,"scheduling":[{"priority":true,"execution_time":20000000,"pid":42}]}`)
		_ = zw.Close()
	})
	for name, tr := range map[string]*http.Transport{"default": nil, "DisableCompression": {DisableCompression: true}} {
		opts := []Option{}
		if tr != nil {
			opts = append(opts, WithHTTPClient(&http.Client{Transport: tr}))
		}
		s, err := newTestClient(t, h, opts...).Strategies(t.Context())
		if err != nil || len(s.Scheduling) != 1 || s.Scheduling[0] != (SchedulingEntry{Priority: 1, ExecutionTime: 20_000_000, PID: 42}) {
			t.Errorf("%s transport: Strategies = %+v, %v", name, s, err)
		}
	}
}

func TestFileTokenIsReadAgainWhenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	valid := "old"
	var seen []string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+valid {
			writeJSON(w, http.StatusUnauthorized, `{"success":false,"error":"unauthenticated"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"success":true,"node":"n1"}`)
	}), WithTokenFile(path))
	if _, err := c.LatestMetrics(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The kubelet rotates the token: the old one is refused from now on.
	if err := os.WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	valid = "new"
	mu.Unlock()
	if _, err := c.LatestMetrics(t.Context()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	want := []string{"Bearer old", "Bearer old", "Bearer new"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization headers %q; want %q", seen, want)
	}
}

func TestSchedulerTokenRenewedBeforeExpiryAndAfterRefusal(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var issued atomic.Int32
	issue := func(_ context.Context, pem string) (*Token, error) {
		if pem != "PEM" {
			t.Errorf("presented key %q", pem)
		}
		n := issued.Add(1)
		return &Token{Token: "top", Data: TokenData{Token: "tok-" + strconv.Itoa(int(n)), ExpiredAt: now.Add(time.Hour).Unix()}}, nil
	}
	clock := now
	s := &schedulerTokens{issue: issue, publicKeyPEM: "PEM", now: func() time.Time { return clock }}
	get := func() string {
		tok, err := s.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if got := get(); got != "tok-1" {
		t.Fatalf("first token %q, want data.token tok-1", got)
	}
	clock = now.Add(53 * time.Minute)
	if got := get(); got != "tok-1" {
		t.Errorf("53 min into an hour: %q, want the same token", got)
	}
	clock = now.Add(55 * time.Minute)
	if got := get(); got != "tok-2" {
		t.Errorf("55 min into an hour: %q, want a renewed token", got)
	}
	s.Invalidate()
	if got := get(); got != "tok-3" {
		t.Errorf("after a refusal: %q, want a new token", got)
	}
}

func TestSchedulerKeyGetsTokenAndRetriesOnceAfterRestart(t *testing.T) {
	var mu sync.Mutex
	current, n := "", 0
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/api/v1/auth/token" {
			var body struct {
				PublicKey string `json:"public_key"`
			}
			if json.NewDecoder(r.Body).Decode(&body) != nil || body.PublicKey != "PEM" || r.Header.Get("Authorization") != "" {
				writeJSON(w, http.StatusUnauthorized, `{"success":false,"error":"no"}`)
				return
			}
			n++
			current = "t" + strconv.Itoa(n)
			writeJSON(w, http.StatusOK, `{"success":true,"token":"`+current+`","data":{"token":"`+current+`","expired_at":4000000000}}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+current {
			writeJSON(w, http.StatusUnauthorized, `{"success":false,"error":"token not valid"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"success":true,"scheduling":[]}`)
	}), WithSchedulerKey([]byte("PEM")))
	for range 3 {
		if _, err := c.Strategies(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	current = "signed-with-a-key-lost-in-a-restart"
	mu.Unlock()
	if _, err := c.Strategies(t.Context()); err != nil {
		t.Fatalf("after the server forgot the token: %v", err)
	}
	if n != 2 {
		t.Errorf("%d tokens issued; want 2 (one at start, one after the refusal)", n)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	for name, try := range map[string]func() (*Client, error){
		"no scheme":    func() (*Client, error) { return New("127.0.0.1:8080") },
		"query":        func() (*Client, error) { return New("http://h/?a=1") },
		"two creds":    func() (*Client, error) { return New("http://h", WithBearerToken("x"), WithSchedulerKey([]byte("k"))) },
		"bad retry":    func() (*Client, error) { return New("http://h", WithRetry(RetryPolicy{})) },
		"tls and http": func() (*Client, error) { return New("https://h", WithTLSConfig(nil)) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPathPrefixAndEscapedNames(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.EscapedPath()
		writeJSON(w, http.StatusOK, `{"success":true}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL + "/bss/")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteDefinition(t.Context(), "a b/c"); err != nil {
		t.Fatal(err)
	}
	if want := "DELETE /bss/api/v1/scheduling/strategies/definitions/a%20b%2Fc"; got != want {
		t.Errorf("request %q, want %q", got, want)
	}
}

func TestReadinessAndHealthAnswerWithTheirReport(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/readyz":
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, `{"status":"not ready","timestamp":"2026-11-25T22:46:10Z","components":{"processes":{"status":"down","detail":"first scan not done"}}}`)
		case "/health":
			writeJSON(w, http.StatusServiceUnavailable, `{"status":"unhealthy","service":"BSS Metrics API Server","components":{"store":{"status":"down"}}}`)
		default: // a stub's bare probe
			w.WriteHeader(http.StatusOK)
		}
	}))
	r, err := c.Ready(t.Context())
	if !errors.Is(err, ErrUnavailable) || r == nil || r.Components["processes"].Detail != "first scan not done" || calls.Load() != 1 {
		t.Errorf("Ready = %+v, %v after %d calls; want the report, ErrUnavailable, no retry", r, err, calls.Load())
	}
	h, err := c.Health(t.Context())
	if err != nil || h.Status != "unhealthy" || h.Components["store"].Status != "down" {
		t.Errorf("Health = %+v, %v; want the unhealthy report", h, err)
	}
	c.base.Path = "/stub"
	if _, err := c.Ready(t.Context()); err != nil {
		t.Errorf("Ready on a bare 200: %v", err)
	}
}
