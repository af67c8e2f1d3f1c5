package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axe-core, vendored at a pinned version with its licence (see
// testdata/axe-core/README.md), runs the accessibility checks.
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// The dashboard's test server: the fixture /proc with two pods named by
// a mock metadata file, and a token per role.
const (
	uiOperatorToken  = "ui-operator-token-0123456789"
	uiViewerToken    = "ui-viewer-token-0123456789ab"
	uiSchedulerToken = "ui-scheduler-token-01234567"
	lokiUID          = "65979e01-4cb1-4d08-9dba-45530253ff00"
	webUID           = "0c7c7a5e-1d2f-4b3a-9e8d-7f6a5b4c3d2e"
)

// pageWeightBudget is the most a first load of the dashboard, with its
// first view's API answers, may transfer.
const pageWeightBudget = 250 * 1024

// pageWatch records what a page does that a person would not see: console
// errors, exceptions, CSP reports and bytes transferred.
type pageWatch struct {
	mu       sync.Mutex
	problems []string
	bytes    float64
	requests int
}

func (w *pageWatch) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			w.problems = append(w.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		w.problems = append(w.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning {
			w.problems = append(w.problems, fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
		}
	case *network.EventLoadingFinished:
		w.bytes += ev.EncodedDataLength
		w.requests++
	}
}

// take returns and forgets the problems seen so far.
func (w *pageWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.problems
	w.problems = nil
	return p
}

// traffic returns and resets the bytes and requests counted so far.
func (w *pageWatch) traffic() (float64, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, n := w.bytes, w.requests
	w.bytes, w.requests = 0, 0
	return b, n
}

// artifactsDir is where screenshots go: $BSS_ARTIFACTS_DIR, else a new
// temporary directory that outlives the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BSS_ARTIFACTS_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "bss-ui-artifacts-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	dir = filepath.Join(dir, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshots and measurements: %s", dir)
	return dir
}

// startDashboardServer starts the server the dashboard tests look at,
// with metrics and a strategy seeded.
func startDashboardServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	pods := filepath.Join(dir, "pods.yaml")
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(tokens, uiOperatorToken+",operator,ops-admin\n"+uiViewerToken+",viewer,watcher\n"+uiSchedulerToken+",scheduler,bss-scheduler\n")
	write(pods, lokiUID+":\n  name: loki-0\n  namespace: monitoring\n  labels: {app: loki}\n  containers:\n"+
		"    5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67: loki\n"+
		webUID+":\n  name: web-7\n  namespace: shop\n  labels: {app: web, tier: front}\n  containers:\n"+
		"    a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90: app\n")
	srv := startServer(t, nil, fixtureProcRoot(t), "--cgroup-root="+t.TempDir(), "--kube-mode=mock", "--mock-pods="+pods,
		"--token-auth-file="+tokens)

	// do sends a request with token and returns its status.
	do := func(method, path, token, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if res := do(http.MethodPut, "/api/v1/scheduling/strategies/definitions/loki", uiOperatorToken,
		`{"priority":3,"execution_time":20000000,"namespaces":["monitoring"],"command_regex":"^loki$"}`); res != http.StatusCreated {
		t.Fatalf("seed strategy: %d", res)
	}
	// Samples until the summary has rates (they need samples a second
	// apart), so every chart has lines.
	n := 0
	waitFor(t, 20*time.Second, "a summary with rates", func() bool {
		n++
		body := fmt.Sprintf(`{"usersched_pid":4242,"nr_queued":%d,"nr_scheduled":%d,"nr_running":%d,"nr_online_cpus":8,`+
			`"nr_user_dispatches":%d,"nr_kernel_dispatches":%d,"nr_cancel_dispatches":%d,"nr_bounce_dispatches":%d,"nr_failed_dispatches":%d,"nr_sched_congested":%d}`,
			3+n%5, 2+n%3, 1+n%2, 400*n, 150*n, 2*n, n, n/3, 5*n)
		if res := do(http.MethodPost, "/api/v1/metrics", uiSchedulerToken, body); res != http.StatusOK {
			t.Fatalf("post metrics: %d", res)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/metrics/summary?window=5m", nil)
		req.Header.Set("Authorization", "Bearer "+uiViewerToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var s struct{ Rates map[string]float64 }
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		if len(s.Rates) == 0 {
			time.Sleep(250 * time.Millisecond) // the next sample must be later
			return false
		}
		return n >= 6
	})
	return srv
}

// dashboard drives one tab of the browser.
type dashboard struct {
	t     *testing.T
	b     *browser
	srv   *testServer
	watch *pageWatch
	dir   string
}

func (d *dashboard) do(actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		d.t.Fatalf("browser: %v", err)
	}
}

// devtools runs one DevTools command on the tab.
func devtools[P any](d *dashboard, cmd cdp.Command[P, cdp.Empty], params P) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, cmd, params); err != nil {
		d.t.Fatalf("%s: %v", cmd.Method, err)
	}
}

// until polls the page until script (an expression) is true.
func (d *dashboard) until(what, script string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.b.ctx, 20*time.Second)
	defer cancel()
	// A page that is loading may have no such element yet, or no
	// document: both are "not yet".
	js := "(() => { try { return String(!!(" + script + ")); } catch (e) { return String(e); } })()"
	poll(d.t, 15*time.Second, what, func() (string, bool) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			return err.Error(), false
		}
		return got, got == "true"
	})
}

// choose picks value in the select with id, as a person would.
func (d *dashboard) choose(id, value string) {
	d.t.Helper()
	got := d.b.eval(d.t, fmt.Sprintf(`(e => { e.value = %q; e.dispatchEvent(new Event("change")); return e.value; })(document.getElementById(%q))`, value, id))
	if got != value {
		d.t.Fatalf("#%s has no option %q", id, value)
	}
}

func (d *dashboard) text(selector string) string {
	d.t.Helper()
	return d.b.eval(d.t, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, selector))
}

// view opens a view by its link and waits until its data is shown.
func (d *dashboard) view(name string) {
	d.t.Helper()
	d.do(chromedp.Click(chromedp.CSS(`nav a[data-view="` + name + `"]`)))
	d.until("view "+name, `document.documentElement.dataset.view === "`+name+`"`)
}

func (d *dashboard) signIn(token string) {
	d.t.Helper()
	d.until("the sign-in form", `!document.getElementById("login").hidden`)
	d.do(chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)))
	d.until("the first view", `document.documentElement.dataset.rendered && document.documentElement.dataset.view`)
}

func (d *dashboard) size(width, height int64, mobile bool) {
	d.t.Helper()
	devtools(d, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile})
}

func (d *dashboard) scheme(dark bool) {
	d.t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	devtools(d, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
}

// screenshot saves the whole page as dir/name.png.
func (d *dashboard) screenshot(name string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, name+".png"), png, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// axe runs axe-core on the page and fails on serious or critical
// violations; it returns how many rules passed.
func (d *dashboard) axe(what string) {
	d.t.Helper()
	if d.b.eval(d.t, `typeof axe`) != "object" {
		d.b.eval(d.t, axeSource+`;"loaded"`)
	}
	got := d.b.eval(d.t, `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify({
		passes: r.passes.length,
		violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary)}))}))`)
	var res struct {
		Passes     int
		Violations []struct {
			ID, Impact, Help string
			Nodes            []string
		}
	}
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		d.t.Fatalf("axe: %v: %s", err, got)
	}
	minor := 0
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			d.t.Errorf("axe, %s: %s violation %s (%s):\n  %s", what, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "\n  "))
		} else {
			minor++
			d.t.Logf("axe, %s: %s violation %s (%s)", what, v.Impact, v.ID, v.Help)
		}
	}
	d.t.Logf("axe, %s: %d rules passed, %d minor or moderate violations", what, res.Passes, minor)
}

// noProblems fails the test with every console error, exception or CSP
// report seen since the last call.
func (d *dashboard) noProblems(when string) {
	d.t.Helper()
	for _, p := range d.watch.take() {
		d.t.Errorf("%s: %s", when, p)
	}
}

func newDashboard(t *testing.T, b *browser, srv *testServer, dir string) *dashboard {
	d := &dashboard{t: t, b: b, srv: srv, watch: &pageWatch{}, dir: dir}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Listen(b.ctx, d.watch.event); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err }(),
		func() error { _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); return err }(),
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err }(),
	} {
		if err != nil {
			t.Fatalf("enable DevTools events: %v", err)
		}
	}
	return d
}

// apiGet reads path from the server as the operator.
func apiGet(t *testing.T, srv *testServer, path string) string {
	t.Helper()
	req := srv.API.NewRequest(t, http.MethodGet, path, "", nil)
	req.Header.Set("Authorization", "Bearer "+uiOperatorToken)
	res := srv.API.Do(t, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Body)
	}
	return string(res.Body)
}

// TestDashboard loads every view of the dashboard in a real Chromium as
// an operator and as a viewer: the seeded data is shown, a strategy made
// through the form (after its preview) is stored and resolved, a viewer
// has no edit controls and a forced write is refused, nothing logs an
// error or breaks the CSP, axe-core finds no serious accessibility
// problem, and the first load stays within its weight budget.
// Screenshots at 1280 and 390 px, light and dark, go to the artifacts
// directory.
func TestDashboard(t *testing.T) {
	dir := artifactsDir(t)
	srv := startDashboardServer(t)
	b := newBrowser(t)
	d := newDashboard(t, b, srv, dir)
	d.size(1280, 900, false)
	d.scheme(false)

	t.Run("operator", func(t *testing.T) {
		d.t = t
		b.open(t, srv.URL+"/ui")
		d.signIn(uiOperatorToken)
		if got := d.text("#whoami"); !strings.Contains(got, "ops-admin") || !strings.Contains(got, "operator") {
			t.Errorf("identity shown: %q", got)
		}
		d.noProblems("sign in")

		// A tab that is signed in loads again, its cache disabled: what a
		// first visit transfers and how soon its data is on screen.
		devtools(d, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		d.watch.traffic()
		d.do(chromedp.Reload())
		d.until("the overview rendered", `document.documentElement.dataset.rendered && document.querySelectorAll("#health .card").length > 3 && document.querySelector("#chart-queue polyline")`)
		bytes, requests := d.watch.traffic()
		rendered := d.b.eval(t, `document.documentElement.dataset.rendered`)
		t.Logf("navigation: %s", d.b.eval(t, `(n => "request " + n.requestStart.toFixed(1) + ", response " + n.responseStart.toFixed(1) + "-" + n.responseEnd.toFixed(1) + ", DOM content loaded " + n.domContentLoadedEventEnd.toFixed(1))(performance.getEntriesByType("navigation")[0])`))
		t.Logf("resource timings (ms after navigation: start, duration):\n%s", d.b.eval(t, `performance.getEntriesByType("resource").map(e => e.name.replace(location.origin, "") + " " + e.startTime.toFixed(1) + " " + e.duration.toFixed(1)).join("\n")`))
		devtools(d, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: false})
		t.Logf("first load: %.0f bytes in %d requests (budget %d); first meaningful render at %s ms after navigation",
			bytes, requests, pageWeightBudget, rendered)
		if err := os.WriteFile(filepath.Join(dir, "measurements.txt"),
			fmt.Appendf(nil, "first load bytes transferred: %.0f\nrequests: %d\nfirst meaningful render (ms after navigation start): %s\n", bytes, requests, rendered), 0o644); err != nil {
			t.Fatal(err)
		}
		if bytes > pageWeightBudget {
			t.Errorf("first load transferred %.0f bytes, more than the budget of %d", bytes, pageWeightBudget)
		}
		if bytes == 0 || requests < 5 {
			t.Errorf("counted %.0f bytes in %d requests: the network events were not seen", bytes, requests)
		}

		// Overview: every component's health, and a line in every chart.
		for _, c := range []string{"kubernetes", "metrics", "processes", "resolution", "store", "strategies"} {
			if !strings.Contains(d.text(`#health [data-component="`+c+`"]`), c) {
				t.Errorf("health of %s not shown: %q", c, d.text("#health"))
			}
		}
		for _, c := range []string{"queue", "dispatch", "congestion", "push"} {
			d.until("a line in the "+c+" chart", `document.querySelector("#chart-`+c+` polyline")`)
		}
		if got := d.text("#stats"); !strings.Contains(got, "/s") || !strings.Contains(got, "ago") {
			t.Errorf("stats: %q", got)
		}
		d.choose("window", "5m")
		d.until("the 5 minute summary", `document.getElementById("stats").innerText.includes("5m0s")`)

		// Pods: both pods, the winner of loki and why.
		d.view("pods")
		d.until("the pods table", `document.querySelector('#pods-table tr[data-pid="718001"]')`)
		row := d.text(`#pods-table tr[data-pid="718001"]`)
		if !strings.Contains(row, "loki") || !strings.Contains(row, "only strategy") || !strings.Contains(row, "level 3") || !strings.Contains(row, "20 ms") {
			t.Errorf("loki's row: %q", row)
		}
		if got := d.text("#pods-table"); !strings.Contains(got, "monitoring/loki-0") || !strings.Contains(got, "shop/web-7") || !strings.Contains(got, "sandbox") {
			t.Errorf("pods table: %q", got)
		}
		d.do(chromedp.SendKeys(chromedp.CSS("#pods-search"), "weird"))
		d.until("the search to leave one process", `document.querySelectorAll("#pods-table tr[data-pid]").length === 1 && document.querySelector('#pods-table tr[data-pid="800"]')`)
		d.b.eval(t, `(e => { e.value = ""; e.dispatchEvent(new Event("input")); return "ok"; })(document.getElementById("pods-search"))`)
		d.until("the search cleared", `document.querySelector('#pods-table tr[data-pid="718001"]')`)
		d.choose("pods-ns", "monitoring")
		d.until("the namespace filter", `document.querySelectorAll("#pods-table tr[data-pid]").length === 2 && !document.querySelector('#pods-table tr[data-pid="800"]')`)
		d.choose("pods-ns", "")

		// Strategies: create one through the form; its preview comes first.
		d.view("strategies")
		d.until("the strategies table", `document.querySelector('#strategies-table tr[data-name="loki"]')`)
		d.do(chromedp.Click(chromedp.CSS("#new-strategy")))
		d.until("the editor", `!document.getElementById("editor").hidden`)
		if d.b.eval(t, `String(document.getElementById("save").disabled)`) != "true" {
			t.Error("Save is enabled before a preview")
		}
		d.do(chromedp.SendKeys(chromedp.CSS("#f-name"), "ui-made"), chromedp.SendKeys(chromedp.CSS("#f-regex"), "weird"),
			chromedp.Click(chromedp.CSS("#preview")))
		d.until("the preview", `document.getElementById("preview-summary")`)
		if got := d.text("#preview-summary"); !strings.Contains(got, "match 1 PID and win 1") {
			t.Errorf("preview: %q", got)
		}
		if got := d.text("#preview-out"); !strings.Contains(got, "800") || !strings.Contains(got, "shop/web-7") {
			t.Errorf("preview lists: %q", got)
		}
		if defs := apiGet(t, srv, "/api/v1/scheduling/strategies/definitions"); strings.Contains(defs, "ui-made") {
			t.Fatalf("the preview saved the strategy: %s", defs)
		}
		d.screenshot("strategy-preview-1280-light")
		d.axe("strategy editor with its preview")
		d.do(chromedp.Click(chromedp.CSS("#save")))
		d.until("the new strategy in the table", `document.querySelector('#strategies-table tr[data-name="ui-made"]')`)

		var defs struct{ Strategies []map[string]any }
		if err := json.Unmarshal([]byte(apiGet(t, srv, "/api/v1/scheduling/strategies/definitions")), &defs); err != nil {
			t.Fatal(err)
		}
		var made map[string]any
		for _, s := range defs.Strategies {
			if s["name"] == "ui-made" {
				made = s
			}
		}
		if made == nil || made["command_regex"] != "weird" || made["execution_time"] != float64(5000000) || made["priority"] != float64(1) {
			t.Errorf("the stored definitions: %+v", defs.Strategies)
		}
		var resolved struct {
			Scheduling []struct {
				PID      int
				Strategy string
			}
		}
		if err := json.Unmarshal([]byte(apiGet(t, srv, "/api/v1/scheduling/strategies?verbose=true")), &resolved); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range resolved.Scheduling {
			found = found || (e.PID == 800 && e.Strategy == "ui-made")
		}
		if !found {
			t.Errorf("PID 800 does not resolve to ui-made: %+v", resolved.Scheduling)
		}

		// Edit it (its name stays), previewed again, then delete another.
		d.do(chromedp.Click(chromedp.CSS(`button[aria-label="Edit ui-made"]`)))
		d.until("the editor with ui-made", `!document.getElementById("editor").hidden && document.getElementById("f-name").value === "ui-made" && document.getElementById("f-name").readOnly`)
		d.b.eval(t, `(e => { e.select(); return "ok"; })(document.getElementById("f-priority"))`)
		d.do(chromedp.SendKeys(chromedp.CSS("#f-priority"), "7"), chromedp.Click(chromedp.CSS("#preview")))
		d.until("the preview of the edit", `document.getElementById("preview-summary") && !document.getElementById("save").disabled`)
		d.do(chromedp.Click(chromedp.CSS("#save")))
		d.until("the edit saved", `document.querySelector('#strategies-table tr[data-name="ui-made"]').innerText.includes("level 7")`)
		if defs := apiGet(t, srv, "/api/v1/scheduling/strategies/definitions"); !strings.Contains(defs, `"name":"ui-made","priority":7`) {
			t.Errorf("the edit is not stored: %s", defs)
		}
		d.do(chromedp.Click(chromedp.CSS(`button[aria-label="Delete loki"]`)))
		if defs := apiGet(t, srv, "/api/v1/scheduling/strategies/definitions"); !strings.Contains(defs, `"loki"`) {
			t.Fatalf("one click deleted loki: %s", defs)
		}
		d.do(chromedp.Click(chromedp.CSS(`button[aria-label="Delete loki"]`)))
		d.until("loki deleted", `!document.querySelector('#strategies-table tr[data-name="loki"]')`)
		if defs := apiGet(t, srv, "/api/v1/scheduling/strategies/definitions"); strings.Contains(defs, `"loki"`) {
			t.Errorf("loki is still stored: %s", defs)
		}

		// Audit: the changes, by whom.
		d.view("audit")
		d.until("the audit record", `document.getElementById("audit-table").innerText.includes("created ui-made")`)
		if got := d.text("#audit-table"); !strings.Contains(got, "ops-admin") || !strings.Contains(got, "PUT /api/v1/scheduling/strategies/definitions/ui-made") {
			t.Errorf("audit table: %q", got)
		}
		d.noProblems("operator views")

		// Every view at both widths, in light and dark, each checked by axe.
		for _, w := range []struct {
			width, height int64
			mobile        bool
		}{{1280, 900, false}, {390, 844, true}} {
			d.size(w.width, w.height, w.mobile)
			for _, dark := range []bool{false, true} {
				d.scheme(dark)
				scheme := map[bool]string{false: "light", true: "dark"}[dark]
				for _, v := range []string{"overview", "pods", "strategies", "audit"} {
					d.view(v)
					name := fmt.Sprintf("%s-%d-%s", v, w.width, scheme)
					d.screenshot(name)
					d.axe(name)
				}
			}
		}
		d.size(1280, 900, false)
		d.scheme(false)
		if w := d.b.eval(t, `String(document.documentElement.scrollWidth)`); w != "1280" {
			t.Logf("page width at 1280 px: %s", w)
		}
		d.noProblems("screenshots and axe")
	})

	t.Run("viewer", func(t *testing.T) {
		d.t = t
		d.do(chromedp.Click(chromedp.CSS("#signout")))
		d.signIn(uiViewerToken)
		if got := d.text("#whoami"); !strings.Contains(got, "watcher") || !strings.Contains(got, "viewer") {
			t.Errorf("identity shown: %q", got)
		}
		d.view("strategies")
		d.until("the strategies table", `document.querySelector('#strategies-table tr[data-name="ui-made"]')`)
		if got := d.b.eval(t, `String([...document.querySelectorAll("#view-strategies button, #view-strategies input, #view-strategies textarea")].filter(e => e.offsetParent !== null).length)`); got != "0" {
			t.Errorf("a viewer sees %s edit controls", got)
		}
		if got := d.text("#strategies-note"); !strings.Contains(got, "Read-only") {
			t.Errorf("no read-only note: %q", got)
		}
		d.view("pods")
		d.until("the pods table", `document.querySelector('#pods-table tr[data-pid="800"]')`)
		d.view("audit")
		d.until("the audit records", `document.getElementById("audit-table").innerText.includes("created ui-made")`)
		d.view("overview")
		d.until("the charts", `document.querySelector("#chart-queue polyline")`)
		d.axe("viewer overview")
		d.noProblems("viewer views")

		// The page's own token, used for a write the page does not offer.
		got := d.b.eval(t, `fetch("/api/v1/scheduling/strategies/definitions/forced", {method: "PUT",
			headers: {"Content-Type": "application/json", "Authorization": "Bearer " + sessionStorage.getItem("bss-api-token")},
			body: JSON.stringify({priority: 1, execution_time: 1000000, command_regex: "."})}).then(r => String(r.status))`)
		if got != strconv.Itoa(http.StatusForbidden) {
			t.Errorf("a viewer's forced write answered %s, want 403", got)
		}
		if defs := apiGet(t, srv, "/api/v1/scheduling/strategies/definitions"); strings.Contains(defs, "forced") {
			t.Errorf("the viewer's write was stored: %s", defs)
		}
		for _, p := range d.watch.take() {
			if !strings.Contains(p, "403") {
				t.Errorf("forced write: %s", p)
			}
		}
		// The token is in this tab's sessionStorage only.
		if got := d.b.eval(t, `String(localStorage.length) + " " + JSON.stringify(document.cookie)`); got != `0 ""` {
			t.Errorf("localStorage entries and cookies: %s", got)
		}
	})
}
