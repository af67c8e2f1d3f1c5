package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	strategiesPath = "/api/v1/scheduling/strategies"
	waitersMetric  = `bss_watch_waiters{route="GET /api/v1/scheduling/strategies"} `
	heldWait       = time.Minute
)

// bench drives one server. Not safe for concurrent use.
type bench struct {
	srv         *server
	hc          *http.Client
	self        int // the pid the written strategy targets: this process
	writes      int
	postLatency summary
	posts       []time.Duration
}

func newBench(srv *server) *bench {
	tr := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	return &bench{srv: srv, hc: &http.Client{Transport: tr}, self: os.Getpid()}
}

// summary is a latency distribution.
type summary struct{ p50, p99, max time.Duration }

func summarize(d []time.Duration) summary {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return summary{p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

func (s summary) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", ms(s.p50), ms(s.p99), ms(s.max))
}

// write replaces the strategies with one for this process whose slice
// differs from the last write's, so the resolved answer changes.
func (b *bench) write(ctx context.Context) error {
	b.writes++
	body := fmt.Sprintf(`{"strategies":[{"priority":true,"execution_time":%d,"pid":%d}]}`, 1_000_000+b.writes, b.self)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.url(strategiesPath), strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	b.posts = append(b.posts, time.Since(start))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST strategies = %d %s", resp.StatusCode, msg)
	}
	return nil
}

// etag returns the current answer's ETag.
func (b *bench) etag(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.url(strategiesPath), nil)
	if err != nil {
		return "", err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET strategies = %d", resp.StatusCode)
	}
	return resp.Header.Get("ETag"), nil
}

// answer is what a held GET got, and when its whole body had arrived.
type answer struct {
	at     time.Time
	status int
	err    error
}

// hold sends GET strategies?wait= with If-None-Match etag; the channel
// receives its answer.
func (b *bench) hold(ctx context.Context, etag string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.url(strategiesPath+"?wait="+heldWait.String()), nil)
		if err != nil {
			out <- answer{err: err}
			return
		}
		req.Header.Set("If-None-Match", etag)
		resp, err := b.hc.Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		out <- answer{at: time.Now(), status: resp.StatusCode, err: err}
	}()
	return out
}

// waitHeld polls /metrics until the server holds n requests on GET
// strategies (a setup step, not timed).
func (b *bench) waitHeld(ctx context.Context, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := b.held(ctx)
		if err != nil || got == n {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server holds %d requests after 30s, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (b *bench) held(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.url("/metrics"), nil)
	if err != nil {
		return 0, err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), waitersMetric); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, nil
}

// receive waits for a held GET's 200.
func receive(ctx context.Context, ch <-chan answer) (time.Time, error) {
	select {
	case a := <-ch:
		if a.err != nil {
			return time.Time{}, a.err
		}
		if a.status != http.StatusOK {
			return time.Time{}, fmt.Errorf("held GET = %d, want 200", a.status)
		}
		return a.at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// writeLatency times n writes, each from just before it is sent until a
// client waiting with the previous ETag has the new answer.
func (b *bench) writeLatency(ctx context.Context, n int) (summary, error) {
	lat := make([]time.Duration, 0, n)
	b.posts = b.posts[:0]
	for range n {
		etag, err := b.etag(ctx)
		if err != nil {
			return summary{}, err
		}
		ch := b.hold(ctx, etag)
		if err := b.waitHeld(ctx, 1); err != nil {
			return summary{}, err
		}
		start := time.Now()
		if err := b.write(ctx); err != nil {
			return summary{}, err
		}
		at, err := receive(ctx, ch)
		if err != nil {
			return summary{}, err
		}
		lat = append(lat, at.Sub(start))
	}
	b.postLatency = summarize(b.posts)
	return summarize(lat), nil
}

// fanResult is one fan-out round.
type fanResult struct {
	all, p50, p99      time.Duration
	rssBefore, rssHeld int64
}

// fanOut holds n waiters, each on its own new connection, makes one
// write and times until every waiter has the new answer.
func (b *bench) fanOut(ctx context.Context, n int) (fanResult, error) {
	var r fanResult
	b.hc.CloseIdleConnections() // every round opens its connections anew
	etag, err := b.etag(ctx)
	if err != nil {
		return r, err
	}
	if r.rssBefore, err = b.srv.rss(); err != nil {
		return r, err
	}
	chans := make([]<-chan answer, n)
	for i := range chans {
		chans[i] = b.hold(ctx, etag)
	}
	if err := b.waitHeld(ctx, n); err != nil {
		return r, err
	}
	if r.rssHeld, err = b.srv.rss(); err != nil {
		return r, err
	}
	start := time.Now()
	if err := b.write(ctx); err != nil {
		return r, err
	}
	lat := make([]time.Duration, 0, n)
	for _, ch := range chans {
		at, err := receive(ctx, ch)
		if err != nil {
			return r, err
		}
		lat = append(lat, at.Sub(start))
	}
	s := summarize(lat)
	r.all, r.p50, r.p99 = s.max, s.p50, s.p99
	return r, nil
}
