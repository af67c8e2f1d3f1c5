package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// browser is a headless Chromium driven over the DevTools protocol, with
// rebind.test resolving to 127.0.0.1. It stops when the test ends.
type browser struct {
	ctx    context.Context
	output *lineBuffer
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := testenv.Binary(t, "BSS_CHROMIUM_BIN", "chromium")
	out := &lineBuffer{}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine has no network but loopback: no background traffic.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx, output: out}
}

// open loads u in the browser's tab.
func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("navigate to %s: %v", u, err)
	}
}

// eval runs script in the page (awaiting a promise) and returns its
// string result.
func (b *browser) eval(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, script)
	}
	return got
}

// requestCounts reads, from the server's /metrics, how many requests the
// route answered with method, by status code.
func requestCounts(t *testing.T, srv *testServer, route, method string) map[int]int {
	t.Helper()
	res := srv.API.Get(t, "/metrics")
	prefix := `bss_http_requests_total{code="`
	suffix := fmt.Sprintf(`",method="%s",route="%s"}`, method, route)
	counts := map[int]int{}
	sc := bufio.NewScanner(strings.NewReader(string(res.Body)))
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ') // the route label has spaces
		if i < 0 {
			continue
		}
		labels, n := line[:i], line[i+1:]
		code, ok := strings.CutPrefix(labels, prefix)
		if !ok {
			continue
		}
		if code, ok = strings.CutSuffix(code, suffix); !ok {
			continue
		}
		c, err1 := strconv.Atoi(code)
		v, err2 := strconv.Atoi(n)
		if err1 != nil || err2 != nil {
			t.Fatalf("cannot read %q", sc.Text())
		}
		counts[c] = v
	}
	return counts
}

func total(counts map[int]int) int {
	n := 0
	for _, v := range counts {
		n += v
	}
	return n
}

// storedStrategies returns the stored definitions through the API.
func storedStrategies(t *testing.T, srv *testServer) string {
	t.Helper()
	res := srv.API.Get(t, "/api/v1/scheduling/strategies/definitions")
	var v struct{ Strategies json.RawMessage }
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("definitions: %s", res.Body)
	}
	return string(v.Strategies)
}

// attackPage serves an empty page from another origin than the server's
// (another port), as a site the user happens to visit.
func attackPage(t *testing.T) string {
	t.Helper()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>another site</title><iframe name=sink></iframe>"))
	}))
	t.Cleanup(page.Close)
	return page.URL
}

// The write every attack tries: replace the strategies with one that
// boosts every process.
const (
	baselineStrategies = `{"strategies":[{"name":"baseline","priority":true,"execution_time":5000000,"command_regex":"^baseline$"}]}`
	hostileStrategies  = `{"strategies":[{"name":"csrf","priority":true,"execution_time":20000000,"command_regex":".*"}]}`
	strategiesRoute    = "POST /api/v1/scheduling/strategies"
)

// TestBrowser runs the browser attacks in one headless Chromium.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	t.Run("cross-origin writes", func(t *testing.T) { crossOriginWrites(t, b) })
	t.Run("allowed origin writes", func(t *testing.T) { allowedOriginWrites(t, b) })
	t.Run("DNS rebinding", func(t *testing.T) { dnsRebinding(t, b) })
}

// crossOriginWrites is CSRF in a real browser: a page of another origin
// tries every way a page sends a request without asking CORS first, and
// one that asks. The server has no credentials, so any of them that was
// accepted would act as the operator; each arrives and is refused, and the
// strategies stay as they were.
func crossOriginWrites(t *testing.T, b *browser) {
	srv := startServer(t, nil)
	if res := srv.API.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(baselineStrategies)); res.StatusCode != http.StatusOK {
		t.Fatalf("baseline: %d %s", res.StatusCode, res.Body)
	}
	before := storedStrategies(t, srv)
	b.open(t, attackPage(t))
	target := strconv.Quote(srv.URL + "/api/v1/scheduling/strategies")
	body := strconv.Quote(hostileStrategies)

	// Text/plain form post: the field's name and value concatenate into a
	// body that is the hostile JSON (the '=' lands inside the regex).
	name, value, _ := strings.Cut(strings.Replace(hostileStrategies, `".*"`, `".*=X"`, 1), "=")
	formPost := func(enctype, name, value string) string {
		return fmt.Sprintf(`(() => {
			const f = document.createElement("form");
			f.method = "POST"; f.action = %s; f.enctype = %q; f.target = "sink";
			const i = document.createElement("input");
			i.type = "hidden"; i.name = %s; i.value = %s;
			f.appendChild(i); document.body.appendChild(f); f.submit();
			return "submitted";
		})()`, target, enctype, strconv.Quote(name), strconv.Quote(value))
	}
	refused := []struct {
		name   string
		script string
	}{
		{"fetch no-cors text/plain", `fetch(` + target + `, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: ` + body + `}).then(() => "sent", e => "error " + e)`},
		{"fetch no-cors Blob without a type", `fetch(` + target + `, {method: "POST", mode: "no-cors", body: new Blob([` + body + `])}).then(() => "sent", e => "error " + e)`},
		{"sendBeacon Blob without a type", `String(navigator.sendBeacon(` + target + `, new Blob([` + body + `])))`},
		{"form post text/plain", formPost("text/plain", name, value)},
		{"form post urlencoded", formPost("application/x-www-form-urlencoded", "strategies", hostileStrategies)},
	}
	for _, a := range refused {
		t.Run(a.name, func(t *testing.T) {
			n := requestCounts(t, srv, strategiesRoute, "POST")
			t.Logf("page: %s", b.eval(t, a.script))
			got := poll(t, 10*time.Second, "the request to arrive", func() (map[int]int, bool) {
				got := requestCounts(t, srv, strategiesRoute, "POST")
				return got, total(got) > total(n)
			})
			if after := storedStrategies(t, srv); after != before {
				t.Fatalf("the strategies changed from %s to %s", before, after)
			}
			if got[http.StatusUnsupportedMediaType] != n[http.StatusUnsupportedMediaType]+1 {
				t.Errorf("answers went from %v to %v; want one more 415", n, got)
			}
		})
	}

	t.Run("fetch application/json needs a preflight", func(t *testing.T) {
		preflights := total(requestCounts(t, srv, "unmatched", "OPTIONS"))
		got := b.eval(t, `fetch(`+target+`, {method: "POST", headers: {"Content-Type": "application/json"}, body: `+body+`}).then(r => "status " + r.status, e => "blocked " + e)`)
		if !strings.HasPrefix(got, "blocked") {
			t.Errorf("the page's JSON fetch: %s; want it blocked", got)
		}
		if total(requestCounts(t, srv, "unmatched", "OPTIONS")) <= preflights {
			t.Error("no preflight reached the server")
		}
		if ok := requestCounts(t, srv, strategiesRoute, "POST")[http.StatusOK]; ok != 1 {
			t.Errorf("%d POSTs were accepted, want only the baseline's", ok)
		}
		if after := storedStrategies(t, srv); after != before {
			t.Fatalf("the strategies changed from %s to %s", before, after)
		}
	})
}

// allowedOriginWrites is the control of crossOriginWrites: the same page,
// once --cors-origins names its origin, passes the preflight and its JSON
// write is applied, so the refusals there are the server's doing and not
// the test's.
func allowedOriginWrites(t *testing.T, b *browser) {
	page := attackPage(t)
	srv := startServer(t, nil, "--cors-origins="+page)
	b.open(t, page)
	got := b.eval(t, `fetch(`+strconv.Quote(srv.URL+"/api/v1/scheduling/strategies")+`, {method: "POST", headers: {"Content-Type": "application/json"}, body: `+
		strconv.Quote(hostileStrategies)+`}).then(r => "status " + r.status, e => "blocked " + e)`)
	if got != "status 200" {
		t.Fatalf("JSON fetch from an allowed origin: %s; want status 200", got)
	}
	if after := storedStrategies(t, srv); !strings.Contains(after, `"csrf"`) {
		t.Errorf("the allowed write is not stored: %s", after)
	}
}

// dnsRebinding loads a page from rebind.test, which the browser
// resolves to 127.0.0.1, on the server's own port: to the browser it is the
// server's own origin, so neither CORS nor the Content-Type rule applies to
// its requests. Their Host is rebind.test, and a server without
// credentials refuses them; the same script from localhost is served.
func dnsRebinding(t *testing.T, b *browser) {
	srv := startServer(t, nil)
	if res := srv.API.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(baselineStrategies)); res.StatusCode != http.StatusOK {
		t.Fatalf("baseline: %d %s", res.StatusCode, res.Body)
	}
	before := storedStrategies(t, srv)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const read = `fetch("/api/v1/scheduling/strategies/definitions").then(r => r.text().then(b => r.status + " " + b))`
	write := `fetch("/api/v1/scheduling/strategies", {method: "POST", headers: {"Content-Type": "application/json"}, body: ` +
		strconv.Quote(hostileStrategies) + `}).then(r => r.text().then(b => r.status + " " + b))`

	b.open(t, "http://rebind.test:"+u.Port()+"/")
	if origin := b.eval(t, `location.origin`); origin != "http://rebind.test:"+u.Port() {
		t.Fatalf("the page's origin is %s", origin)
	}
	for what, script := range map[string]string{"read": read, "write": write} {
		got := b.eval(t, script)
		if !strings.HasPrefix(got, "403 ") || !strings.Contains(got, "loopback") {
			t.Errorf("rebound page's %s: %s; want 403", what, got)
		}
	}
	if after := storedStrategies(t, srv); after != before {
		t.Fatalf("the strategies changed from %s to %s", before, after)
	}
	if n := requestCounts(t, srv, "refused host", "POST")[http.StatusForbidden]; n != 1 {
		t.Errorf("refused host POSTs counted: %d, want 1", n)
	}

	// Control: the same script on the server's loopback name is served.
	b.open(t, "http://localhost:"+u.Port()+"/")
	if got := b.eval(t, read); !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"baseline"`) {
		t.Errorf("page on localhost: %s; want the strategies", got)
	}
}
