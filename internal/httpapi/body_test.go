package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// trickle is a reader that gives its bytes, then blocks until released,
// as a client sending part of a body does.
type trickle struct {
	data    []byte
	release chan struct{}
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) > 0 {
		n := copy(p, t.data)
		t.data = t.data[n:]
		return n, nil
	}
	<-t.release
	return 0, io.ErrUnexpectedEOF
}

func TestReadAllGrowsAsBytesArrive(t *testing.T) {
	// A body that announced a megabyte and sent ten bytes holds ten
	// bytes' worth, not the megabyte.
	tr := &trickle{data: []byte("0123456789"), release: make(chan struct{})}
	close(tr.release)
	buf, err := readAll(tr, 1<<20+1)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(buf) != "0123456789" {
		t.Fatalf("readAll = %q, %v", buf, err)
	}
	if cap(buf) > bodyFreeBytes {
		t.Errorf("10 bytes of an announced 1 MiB hold a %d-byte buffer, want at most %d", cap(buf), bodyFreeBytes)
	}
	// A large body arrives whole, in a buffer at most twice its size.
	want := bytes.Repeat([]byte("x"), 300_000)
	buf, err = readAll(iotest{bytes.NewReader(want)}, 1<<20+1)
	if err != nil || !bytes.Equal(buf, want) {
		t.Fatalf("readAll of 300000 bytes = %d bytes, %v", len(buf), err)
	}
	if cap(buf) > 2*len(want) {
		t.Errorf("300000 bytes in a %d-byte buffer", cap(buf))
	}
}

// iotest reads at most 1000 bytes at a time, like a network.
type iotest struct{ r io.Reader }

func (r iotest) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 1000)]) }

// rawPost sends a POST's headers announcing length bytes and then sent
// bytes of body on a raw connection, and returns the answer.
func rawPost(t *testing.T, url, path string, length int, sent string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, length, sent)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, body
}

func TestSlowBodyIsCutOff(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct {
		name   string
		limits BodyLimits
		want   string
	}{
		{"below the minimum rate", BodyLimits{MinRate: 1000, Grace: 200 * time.Millisecond}, "slower than 1000 bytes per second"},
		{"past the read timeout", BodyLimits{Timeout: 300 * time.Millisecond}, "not complete within 300ms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, v, func(c *Config) { c.Bodies = tt.limits })
			url := env.client.BaseURL
			begin := time.Now()
			resp, body := rawPost(t, url, "/api/v1/metrics", 5000, `{"nr_queued":`)
			defer resp.Body.Close()
			took := time.Since(begin)
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), tt.want) {
				t.Fatalf("slow body: %d %s, want 408 saying %q", resp.StatusCode, body, tt.want)
			}
			if took > 5*time.Second {
				t.Errorf("cut off after %s", took)
			}
			req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/metrics", nil)
			req.Header.Set("Content-Type", "application/json")
			v.Check(t, req, nil, resp, body)
			// A body that comes at once is untouched.
			if res := env.client.Post(t, "/api/v1/metrics", "application/json", []byte(`{"nr_queued":1}`)); res.StatusCode != http.StatusOK {
				t.Errorf("a prompt body: %d %s", res.StatusCode, res.Body)
			}
		})
	}
}

func TestBodyBudget(t *testing.T) {
	g := newBodyGuard(BodyLimits{InFlight: 16 << 10, Timeout: 500 * time.Millisecond})
	entered, release := make(chan struct{}, 4), make(chan struct{})
	rs := responder{log: newTestConfig(t, &fakeClock{now: start}).Logger}
	srv := httptest.NewServer(g.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readJSONBody(w, r, 16<<10)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		entered <- struct{}{}
		if r.URL.Query().Has("hold") {
			<-release // the body stays held until the handler returns
		}
		fmt.Fprintf(w, "%d", len(body))
	})))
	defer srv.Close()
	// post returns the status, the Retry-After header and the body.
	post := func(path string, n int) (int, string, string) {
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), n)))
		if err != nil {
			t.Error(err)
			return 0, "", ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	held := make(chan string, 1)
	go func() {
		status, _, b := post("/?hold", 12<<10) // holds 8 KiB + 1 of the 16 KiB
		held <- fmt.Sprint(status, " ", b)
	}()
	<-entered
	// Small bodies are not counted: a scheduler's metrics never wait.
	if status, _, b := post("/", 3000); status != http.StatusOK {
		t.Errorf("a small body while the budget is held: %d %s", status, b)
	}
	<-entered
	status, retry, b := post("/", 12<<10)
	if status != http.StatusServiceUnavailable || retry != "1" {
		t.Fatalf("a body past the budget: %d (Retry-After %q) %s, want 503 with Retry-After 1", status, retry, b)
	}
	var env envelope
	if err := json.Unmarshal([]byte(b), &env); err != nil || !strings.Contains(env.Error, "other request bodies") {
		t.Errorf("503 body %s", b)
	}
	close(release)
	if got := <-held; got != "200 12288" {
		t.Errorf("the held request answered %s", got)
	}
	// Given back: the same body now goes through.
	if status, _, b := post("/", 12<<10); status != http.StatusOK {
		t.Errorf("after the budget was given back: %d %s", status, b)
	}
}

func TestBodyCacheKeepsOnlyWhatFitsItsBound(t *testing.T) {
	c := &bodyCache{max: 10}
	builds := 0
	build := func(body string) func() ([]byte, error) {
		return func() ([]byte, error) { builds++; return []byte(body), nil }
	}
	for range 3 {
		if cb, err := c.get(0, 1, 100, build("small")); err != nil || string(cb.body) != "small" {
			t.Fatalf("get = %v, %v", cb, err)
		}
	}
	if builds != 1 {
		t.Errorf("a body within the bound was built %d times for 3 requests, want 1", builds)
	}
	builds = 0
	for range 3 {
		if cb, _ := c.get(0, 2, 100, build("larger than ten")); string(cb.body) != "larger than ten" {
			t.Fatalf("body = %q", cb.body)
		}
	}
	if builds != 3 || c.slots[0].Load() != nil {
		t.Errorf("a body past the bound: built %d times for 3 requests, kept %v; want built each time, nothing kept", builds, c.slots[0].Load() != nil)
	}
}
